// paylive demo: what the booking page and the Checkout return page share.
// - the booking kept in sessionStorage (order id stable until paid),
// - the JSON API helper,
// - LiveStatus: the WebSocket client (subscribe, reconnect with backoff and since_version,
//   apply only versions above the one held),
// - LivePanel: renders the customer's view (status, amount, what to do next, attempts) and,
//   behind a toggle, the developer's (versions, payment id, timeline event names, codes).
// Every message carries `attempt`, the newest attempt as the customer may see it (the
// service's customer view), so the page never re-reads /attempts.
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

// ---- LiveStatus: the WebSocket client ----------------------------------------------------

const CLOSE_AUTH = 4001;
const CLOSE_BAD_MESSAGE = 4400;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
// The server pings every 25 s; silence for longer than two pings means the link is dead.
const SILENCE_MS = 60000;

// Holds one payment's state; applies only versions above the one held.
export class PaymentState {
  constructor(saved) {
    this.version = (saved && saved.version) || 0;
    this.payment = (saved && saved.payment) || null;
    this.timeline = (saved && saved.timeline) || [];
    this.attempt = (saved && saved.attempt) || null; // the newest, as the customer sees it
  }

  // Returns true when the message changed what is held.
  apply(message) {
    let changed = false;
    const known = new Set(this.timeline.map((e) => e.version));
    for (const entry of message.timeline || []) {
      if (!known.has(entry.version) && entry.version > 0) {
        this.timeline.push(entry);
        known.add(entry.version);
        changed = true;
      }
    }
    this.timeline.sort((a, b) => a.version - b.version);
    if (typeof message.version === "number" && message.version > this.version) {
      this.version = message.version;
      this.payment = message.payment;
      if (message.attempt) this.attempt = message.attempt;
      changed = true;
    }
    return changed;
  }

  // Every attempt, oldest first, as the timeline recorded it (the customer view).
  attempts() {
    return this.timeline
      .filter((e) => e.data && e.data.attempt)
      .map((e) => ({ ...e.data.attempt, at: e.at }));
  }

  toJSON() {
    return {
      version: this.version,
      payment: this.payment,
      timeline: this.timeline,
      attempt: this.attempt,
    };
  }
}

export class LiveStatus {
  // handlers: onChange(state), onConnection(state, detail), onError(message)
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.watching = null; // {payment_id, token}
    this.state = null;
    this.retries = 0;
    this.reconnects = 0;
    this.timer = null;
    this.silence = null;
    this.stopped = false;
    this.subscribes = []; // every subscribe sent: {payment_id, since_version}, for debugging
    this.connection = "idle";
  }

  watch(paymentId, token, saved) {
    if (this.watching && this.watching.payment_id !== paymentId && this.ws &&
        this.ws.readyState === WebSocket.OPEN) {
      this.send({ type: "unsubscribe", payment_id: this.watching.payment_id });
    }
    const same = this.watching && this.watching.payment_id === paymentId;
    this.watching = { payment_id: paymentId, token };
    if (!same) this.state = new PaymentState(saved);
    this.stopped = false;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.subscribe();
    else if (!this.ws) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.silence);
    if (this.ws) this.ws.close(1000, "done");
    this.ws = null;
    this.setConnection("idle");
  }

  setConnection(state, detail = "") {
    this.connection = state;
    this.handlers.onConnection(state, detail);
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}/ws`;
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped || !this.watching) return;
    this.setConnection(this.retries ? "reconnecting" : "connecting",
      this.retries ? `attempt ${this.retries + 1}` : "");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect(`cannot open: ${err.message}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.retries) this.reconnects += 1;
      this.retries = 0;
      this.setConnection("live");
      this.heard();
      this.subscribe();
    };
    ws.onmessage = (event) => {
      this.heard();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return; // an old socket we replaced
      this.ws = null;
      clearTimeout(this.silence);
      if (this.stopped) return;
      if (event.code === CLOSE_AUTH || event.code === CLOSE_BAD_MESSAGE) {
        this.setConnection("offline", `closed by the server (${event.code} ${event.reason})`);
        return;
      }
      this.scheduleReconnect(`closed (${event.code}${event.reason ? " " + event.reason : ""})`);
    };
  }

  scheduleReconnect(why) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.retries);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.retries += 1;
    this.setConnection("reconnecting", `${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  heard() {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => {
      if (this.ws) this.ws.close(4000, "silent");
    }, SILENCE_MS);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  subscribe() {
    if (!this.watching) return;
    const since = this.state ? this.state.version : 0;
    this.subscribes.push({ payment_id: this.watching.payment_id, since_version: since });
    this.send({
      type: "subscribe",
      payment_id: this.watching.payment_id,
      token: this.watching.token,
      since_version: since,
    });
  }

  receive(message) {
    if (message.type === "ping" || message.type === "pong") return; // heard() noted it
    if (message.type === "error") {
      this.handlers.onError(message.message || message.code);
      return;
    }
    if (message.type !== "snapshot" && message.type !== "update") return;
    if (!this.watching || message.payment_id !== this.watching.payment_id) return;
    if (this.state.apply(message)) this.handlers.onChange(this.state, message.type);
  }
}

// ---- LivePanel: what the socket says, rendered ------------------------------------------

const STATUS_TEXT = {
  requires_payment_method: "Awaiting payment",
  requires_confirmation: "Awaiting confirmation",
  requires_action: "Awaiting authentication",
  processing: "Processing",
  requires_capture: "Authorised",
  succeeded: "Paid",
  canceled: "Canceled",
};

const OUTCOME_TEXT = {
  failed: "Declined",
  succeeded: "Paid",
  requires_action: "Waiting for your bank",
  processing: "Processing",
  canceled: "Canceled",
};

export function statusText(status) {
  return STATUS_TEXT[status] || status || "—";
}

function time(at) {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString("en-GB");
}

function card(brand, last4) {
  if (!last4) return brand || "card";
  return `${brand ? brand[0].toUpperCase() + brand.slice(1) : "Card"} •••• ${last4}`;
}

export class LivePanel {
  constructor(root) {
    this.root = root;
    this.q = (id) => root.querySelector(`[data-testid="${id}"]`);
    this.root.dataset.view = "customer";
    this.q("view-toggle").addEventListener("click", () => this.toggleView());
  }

  toggleView() {
    const developer = this.root.dataset.view !== "developer";
    this.root.dataset.view = developer ? "developer" : "customer";
    const button = this.q("view-toggle");
    button.setAttribute("aria-expanded", String(developer));
    button.textContent = developer ? "Hide developer details" : "Show developer details";
  }

  connection(state, detail) {
    const node = this.q("connection");
    node.dataset.state = state;
    const label = {
      idle: "Not connected",
      connecting: "Connecting…",
      live: "Live",
      reconnecting: "Reconnecting…",
      offline: "Offline",
    }[state] || state;
    node.querySelector(".label").textContent = label;
    node.title = detail || label;
    this.q("connection-detail").textContent = state === "live" ? "" : detail;
  }

  debug(live) {
    const last = live.subscribes[live.subscribes.length - 1];
    this.root.dataset.subscribes = String(live.subscribes.length);
    this.root.dataset.reconnects = String(live.reconnects);
    this.root.dataset.lastSinceVersion = last ? String(last.since_version) : "";
  }

  // Nothing of a previous payment stays on screen.
  empty() {
    this.root.dataset.status = "";
    this.root.dataset.version = "0";
    this.q("live-status").textContent = "No payment yet";
    this.q("live-status").dataset.status = "";
    for (const id of ["live-version", "live-payment-id", "live-amount", "live-flow"]) {
      this.q(id).textContent = "—";
    }
    this.q("live-message").textContent = "";
    this.q("timeline").replaceChildren();
    this.q("attempts").replaceChildren();
    this.q("attempts-empty").hidden = false;
  }

  render(state) {
    const p = state.payment;
    if (!p) return;
    this.root.dataset.status = p.status;
    this.root.dataset.version = String(state.version);
    const badge = this.q("live-status");
    badge.textContent = statusText(p.status) +
      (p.status === "canceled" && p.cancellation_reason ? ` (${p.cancellation_reason})` : "");
    badge.dataset.status = p.status;
    this.q("live-version").textContent = String(state.version);
    this.q("live-payment-id").textContent = p.payment_id;
    this.q("live-amount").textContent = money(p.amount, p.currency) +
      (p.amount_refunded ? ` (refunded ${money(p.amount_refunded, p.currency)})` : "");
    this.q("live-flow").textContent = p.flow === "checkout_session" ? "Hosted Checkout" : "Card on page";
    const latest = state.attempt;
    this.q("live-message").textContent =
      latest && p.status !== "succeeded" && latest.advice_message ? latest.advice_message : "";
    this.renderTimeline(state.timeline);
    this.renderAttempts(state.attempts());
  }

  renderTimeline(entries) {
    const list = this.q("timeline");
    list.replaceChildren(
      ...[...entries].reverse().map((e) => {
        const a = e.data && e.data.attempt;
        const note = a && a.decline_code ? ` · ${a.decline_code}` : a && a.error_code ? ` · ${a.error_code}` : "";
        return el("li", {
          "data-testid": "timeline-entry",
          "data-version": e.version,
          "data-kind": e.kind,
          "data-status": e.status,
        },
        el("span", { class: "v", text: `v${e.version}` }),
        el("span", { class: "kind" },
          el("span", { text: e.kind.replaceAll(".", ".\u200b").replaceAll("_", "_\u200b") + note }),
          el("time", { text: time(e.at) })),
        el("span", { class: `pill s-${e.status}`, text: e.status.replaceAll("_", " ") }));
      }),
    );
  }

  // The attempts as the service's customer view gives them (flat, nothing rebuilt); the
  // codes and the retry flag are for developers only.
  renderAttempts(attempts) {
    const list = this.q("attempts");
    this.q("attempts-empty").hidden = attempts.length > 0;
    list.replaceChildren(
      ...attempts.map((a, i) => {
        const codes = [a.error_code, a.decline_code].filter(Boolean)
          .filter((v, j, all) => all.indexOf(v) === j).join(" / ");
        const failed = a.outcome === "failed";
        return el("li", { "data-testid": "attempt", "data-outcome": a.outcome, class: `attempt o-${a.outcome}` },
          el("div", { class: "attempt-head" },
            el("strong", { text: `#${i + 1}` }),
            el("span", { class: `pill o-${a.outcome}`, "data-testid": "attempt-outcome", text: OUTCOME_TEXT[a.outcome] || a.outcome.replaceAll("_", " ") }),
            a.card_last4 ? el("span", { class: "card", text: card(a.card_brand, a.card_last4) }) : null,
            el("time", { text: time(a.at) })),
          codes && el("div", { class: "attempt-error dev", "data-testid": "attempt-error" }, el("code", { text: codes })),
          a.advice_next_step && el("div", {
            class: "advice",
            "data-testid": "attempt-advice",
            "data-next-step": a.advice_next_step,
            "data-retryable": String(Boolean(a.advice_retryable)),
          },
          a.advice_message ? el("span", { class: "advice-msg", text: a.advice_message }) : null,
          el("span", {
            class: "advice-step dev",
            text: `next_step: ${a.advice_next_step}` + (failed ? ` · retryable: ${a.advice_retryable ? "yes" : "no"}` : ""),
          })));
      }),
    );
  }
}

export const PANEL_HTML = `
  <div class="panel-head">
    <h2>Live payment status</h2>
    <span class="connection" data-testid="connection" data-state="idle"><span class="dot"></span><span class="label">Not connected</span></span>
  </div>
  <p class="connection-detail" data-testid="connection-detail"></p>
  <dl class="facts">
    <dt>Status</dt><dd><span class="status-badge" data-testid="live-status">No payment yet</span></dd>
    <dt>Amount</dt><dd data-testid="live-amount">—</dd>
    <dt>Method</dt><dd data-testid="live-flow">—</dd>
    <dt class="dev">Version</dt><dd class="dev" data-testid="live-version">—</dd>
    <dt class="dev">Payment</dt><dd class="dev mono small" data-testid="live-payment-id">—</dd>
  </dl>
  <p class="live-message" data-testid="live-message"></p>
  <h3>Attempts</h3>
  <p class="muted small" data-testid="attempts-empty">No attempts yet.</p>
  <ol class="attempts" data-testid="attempts"></ol>
  <div class="dev" id="live-developer" data-testid="developer-view">
    <h3>Timeline</h3>
    <ol class="timeline" data-testid="timeline"></ol>
    <p class="muted small">Everything in this panel arrives over the WebSocket at <code>/ws</code>:
    each message carries the payment, its new timeline entries and its newest attempt.</p>
  </div>
  <button type="button" class="link" data-testid="view-toggle" aria-expanded="false"
    aria-controls="live-developer">Show developer details</button>`;
