// paylive demo: what the booking page, the Checkout return page and My bookings share:
// the booking kept in sessionStorage (order id stable until paid), the JSON API helper,
// the demo's config and Stripe.js, and the words for each status. The live status itself
// comes from paylive.js (see follow.js); the live panel is live_panel.js.
// No framework, nothing loaded from the internet (Stripe.js comes from config.json).

export const CURRENCY = "eur";
const STORE_KEY = "paylive.demo.booking.v1";
const FINAL = new Set(["succeeded", "canceled"]);

export function isFinal(status) {
  return FINAL.has(status);
}

export function money(amount, currency = CURRENCY) {
  return new Intl.NumberFormat("en-IE", { style: "currency", currency: currency.toUpperCase() })
    .format(amount / 100);
}

export function randomId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- the booking (sessionStorage) -------------------------------------------------------

export function newBooking() {
  const stamp = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  return {
    order_id: `booking-${stamp}-${randomId().slice(0, 8)}`,
    seats: [],
    paid: false,
    payment: null, // {payment_id, status_token, flow, client_secret}
    live: null, // {version, payment, timeline, attempt}
  };
}

export function loadBooking() {
  try {
    const raw = window.sessionStorage.getItem(STORE_KEY);
    const booking = raw ? JSON.parse(raw) : null;
    if (booking && typeof booking.order_id === "string" && Array.isArray(booking.seats)) {
      return booking;
    }
  } catch (err) {
    console.warn("paylive: ignoring a stored booking that cannot be read", err);
  }
  return null;
}

export function saveBooking(booking) {
  window.sessionStorage.setItem(STORE_KEY, JSON.stringify(booking));
}

export function clearBooking() {
  window.sessionStorage.removeItem(STORE_KEY);
}

// ---- the JSON API ------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || {};
  }
}

export async function api(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export async function loadConfig() {
  return api("GET", "/demo/config.json");
}

// Stripe.js from the URL the service names (the emulator's or js.stripe.com).
export function loadStripeJs(url) {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.onload = () =>
      window.Stripe ? resolve(window.Stripe) : reject(new Error("Stripe.js did not load"));
    script.onerror = () => reject(new Error(`Stripe.js could not be loaded from ${url}`));
    document.head.append(script);
  });
}

// ---- the words for each status ------------------------------------------------------------

const STATUS_TEXT = {
  requires_payment_method: "Awaiting payment",
  requires_confirmation: "Awaiting confirmation",
  requires_action: "Awaiting authentication",
  processing: "Processing",
  requires_capture: "Authorised",
  succeeded: "Paid",
  canceled: "Canceled",
};

export function statusText(status) {
  return STATUS_TEXT[status] || status || "—";
}
