// The booking page: seats, price, and two ways to pay; the live panel follows the payment.
import {
  ApiError, AttemptsFetcher, CURRENCY, LivePanel, LiveStatus, PANEL_HTML, api, clearBooking, el,
  isFinal, loadBooking, loadConfig, loadStripeJs, money, newBooking, randomId, saveBooking,
} from "./common.js";

const ROWS = ["A", "B", "C", "D", "E", "F"];
const PER_ROW = 10;
const MAX_SEATS = 6;
const CATEGORIES = [
  { id: "front", name: "Front stalls", rows: ["A", "B"], price: 4800 },
  { id: "stalls", name: "Stalls", rows: ["C", "D"], price: 3600 },
  { id: "rear", name: "Rear stalls", rows: ["E", "F"], price: 2400 },
];
const TAKEN = new Set(["A4", "A5", "B8", "C1", "C2", "D5", "D6", "E9", "F1", "F2", "F3"]);
const SOLD_KEY = "paylive.demo.sold.v1";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

function category(seat) {
  return CATEGORIES.find((c) => c.rows.includes(seat[0]));
}

function sold() {
  try {
    return new Set(JSON.parse(window.localStorage.getItem(SOLD_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function markSold(seats) {
  const all = sold();
  seats.forEach((s) => all.add(s));
  window.localStorage.setItem(SOLD_KEY, JSON.stringify([...all]));
}

function total(seats) {
  return seats.reduce((sum, seat) => sum + category(seat).price, 0);
}

const page = {
  booking: loadBooking() || newBooking(),
  stripe: null,
  card: null,
  busy: false,
  live: null,
  panel: null,
  fetcher: null,
  asking: null, // the order whose confirmation the theatre is being asked for
};
saveBooking(page.booking);

// A payment that can still take money holds the seats and fixes the amount.
function openPayment() {
  const b = page.booking;
  if (!b.payment) return false;
  const status = b.live && b.live.payment ? b.live.payment.status : null;
  return status !== "canceled";
}

function currentStatus() {
  const b = page.booking;
  return b.live && b.live.payment ? b.live.payment.status : null;
}

// ---- seats and summary ---------------------------------------------------------------------

function renderSeats() {
  const b = page.booking;
  const locked = b.paid || openPayment();
  const unavailable = new Set([...TAKEN, ...sold()]);
  const map = $("seatmap");
  map.replaceChildren(
    ...ROWS.map((row) =>
      el("div", { class: `row c-${category(row + "1").id}` },
        el("span", { class: "row-label", text: row }),
        ...Array.from({ length: PER_ROW }, (_, i) => {
          const seat = `${row}${i + 1}`;
          const chosen = b.seats.includes(seat);
          const taken = unavailable.has(seat) && !chosen;
          return el("button", {
            type: "button",
            class: `seat${chosen ? " chosen" : ""}${taken ? " taken" : ""}${i === 4 ? " aisle" : ""}`,
            "data-seat": seat,
            "data-testid": `seat-${seat}`,
            "aria-pressed": String(chosen),
            "aria-label": `Seat ${seat}, ${category(seat).name}, ${money(category(seat).price)}${taken ? ", taken" : ""}`,
            disabled: taken || locked,
            onclick: () => toggleSeat(seat),
            text: String(i + 1),
          });
        }),
        el("span", { class: "row-label", text: row }))),
  );
  $("legend").replaceChildren(
    ...CATEGORIES.map((c) =>
      el("li", { class: `c-${c.id}` }, el("span", { class: "swatch" }), `${c.name} ${money(c.price)}`)),
    el("li", { class: "taken" }, el("span", { class: "swatch" }), "Taken"),
    el("li", { class: "chosen" }, el("span", { class: "swatch" }), "Yours"),
  );
  $("seat-hint").textContent = locked ? "Seats are held for this booking." : `Up to ${MAX_SEATS} seats.`;
}

function toggleSeat(seat) {
  const b = page.booking;
  if (b.paid || openPayment()) return;
  if (b.seats.includes(seat)) b.seats = b.seats.filter((s) => s !== seat);
  else if (b.seats.length < MAX_SEATS) b.seats = [...b.seats, seat].sort(seatOrder);
  else return message(`At most ${MAX_SEATS} seats per booking.`, "error");
  saveBooking(b);
  render();
}

function seatOrder(a, b) {
  return a[0] === b[0] ? Number(a.slice(1)) - Number(b.slice(1)) : a.localeCompare(b);
}

function renderSummary() {
  const b = page.booking;
  $("order-id").textContent = b.order_id;
  $("seats-empty").hidden = b.seats.length > 0;
  $("lines").replaceChildren(
    ...b.seats.map((seat) =>
      el("li", { "data-testid": "line" },
        el("span", { text: `Seat ${seat}` }),
        el("span", { class: "muted", text: category(seat).name }),
        el("span", { class: "price", text: money(category(seat).price) }))),
  );
  $("total").textContent = money(total(b.seats));
  $("total").dataset.amount = String(total(b.seats));
  $("locked-note").hidden = !(openPayment() && !b.paid);
}

function renderPay() {
  const b = page.booking;
  const can = !page.busy && !b.paid && b.seats.length > 0;
  $("pay-card").disabled = !can || !page.card;
  $("pay-card").textContent = b.seats.length ? `Pay ${money(total(b.seats))} by card` : "Pay by card";
  $("pay-hosted").disabled = !can;
  $("pay").hidden = b.paid;
}

// The headline: only what the socket said (the held state) decides it.
function renderResult() {
  const b = page.booking;
  const status = currentStatus();
  const node = $("result");
  const views = {
    succeeded: ["paid", "Booking confirmed", `${b.seats.length === 1 ? "Seat" : "Seats"} ${b.seats.join(", ")} ${b.seats.length === 1 ? "is" : "are"} yours. A receipt is on its way.`],
    processing: ["processing", "Payment processing", "Your bank is processing the payment; this page updates by itself."],
    requires_action: ["action", "Waiting for authentication", "Confirm the payment with your bank."],
    canceled: ["canceled", "Payment canceled", "The payment did not complete and no money was taken. You can pay again."],
  };
  const reason = b.live && b.live.payment ? b.live.payment.cancellation_reason : null;
  if (status === "canceled" && reason === "expired") {
    views.canceled = ["canceled", "Payment expired", "The hosted payment page expired before it was paid; no money was taken. You can pay again."];
  }
  const view = views[status];
  node.hidden = !view;
  if (!view) {
    node.removeAttribute("data-result");
    return;
  }
  node.dataset.result = view[0];
  node.className = `result r-${view[0]}`;
  const parts = [
    el("strong", { "data-testid": "result-title", text: view[1] }),
    el("span", { text: view[2] }),
  ];
  if (status === "succeeded") {
    parts.push(el("span", {
      "data-testid": "theatre-confirmed",
      class: "muted small",
      text: b.theatre ? "Confirmed by the theatre." : "Waiting for the theatre to confirm…",
    }));
    parts.push(el("button", { type: "button", class: "secondary", "data-testid": "book-again", onclick: startOver, text: "Book more seats" }));
  }
  node.replaceChildren(...parts);
}

function render() {
  renderSeats();
  renderSummary();
  renderPay();
  renderResult();
}

function message(text, kind = "info") {
  const node = $("pay-message");
  node.textContent = text;
  node.dataset.kind = kind;
}

function startOver() {
  if (page.busy) return;
  page.live.stop();
  clearBooking();
  page.booking = newBooking();
  saveBooking(page.booking);
  page.panel.empty();
  $("card-error").textContent = "";
  $("checkout-notice").hidden = true;
  message("");
  if (page.card) page.card.clear();
  render();
}

// ---- live status ----------------------------------------------------------------------------

function onLive(state) {
  const b = page.booking;
  b.live = state.toJSON();
  const status = state.payment && state.payment.status;
  if (status === "succeeded" && !b.paid) {
    b.paid = true;
    markSold(b.seats);
    message("");
  }
  if (status === "succeeded" && !b.theatre) askTheatre(b);
  saveBooking(b);
  page.panel.render(state);
  page.panel.debug(page.live);
  if (b.payment) page.fetcher.refresh(b.payment.payment_id, b.payment.status_token);
  if (status === "canceled" || status === "succeeded") $("checkout-notice").hidden = true;
  render();
}

// The theatre's own backend hears of the payment by a signed notification (paylive's
// merchant webhooks), not from this page: ask it until it has confirmed the booking.
async function askTheatre(b, tries = 40) {
  if (page.asking === b.order_id) return;
  page.asking = b.order_id;
  for (let i = 0; i < tries && page.booking === b && !b.theatre; i += 1) {
    try {
      const response = await fetch(`/theatre/orders/${encodeURIComponent(b.order_id)}`);
      if (response.ok && (await response.json()).confirmed) {
        b.theatre = true;
        saveBooking(b);
        render();
        break;
      }
    } catch {
      // the theatre's backend is not there (the service without the demo): keep waiting
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  page.asking = null;
}

function watch() {
  const b = page.booking;
  if (!b.payment) return;
  page.live.watch(b.payment.payment_id, b.payment.status_token, b.live);
  if (b.live && b.live.payment) page.panel.render(page.live.state);
  page.panel.debug(page.live);
}

// The service answered with a payment for this order: follow it.
function attach(made, flow) {
  const b = page.booking;
  if (!b.payment || b.payment.payment_id !== made.payment_id) {
    b.payment = { payment_id: made.payment_id, status_token: made.status_token, flow };
    b.live = null;
  } else {
    b.payment.status_token = made.status_token;
  }
  saveBooking(b);
  watch();
}

function orderBody() {
  const b = page.booking;
  return {
    order_id: b.order_id,
    currency: CURRENCY,
    description: `The Night Mail, 14 March 19:30: seats ${b.seats.join(", ")}`,
    metadata: { seats: b.seats.join(" "), show: "night-mail-0314" },
  };
}

function explain(err) {
  if (!(err instanceof ApiError)) return err.message || String(err);
  if (err.code === "order_already_paid") return "This booking has already been paid.";
  if (err.code === "order_has_open_payment") {
    return err.details && err.details.flow === "checkout_session"
      ? "This booking has an open payment on the hosted page: continue there, or wait until it expires."
      : "This booking has a card payment in progress: finish it with a card on this page.";
  }
  return err.message;
}

async function withBusy(work) {
  if (page.busy) return;
  page.busy = true;
  render();
  try {
    await work();
  } catch (err) {
    message(explain(err), "error");
  } finally {
    page.busy = false;
    render();
  }
}

async function payByCard(event) {
  event.preventDefault();
  await withBusy(async () => {
    $("card-error").textContent = "";
    message("Creating the payment…");
    const b = page.booking;
    const made = await api("POST", "/api/payment-intents", {
      body: { ...orderBody(), amount: total(b.seats) },
      headers: { "Idempotency-Key": randomId() },
    });
    attach(made, "payment_intent");
    if (isFinal(made.status)) return message("");
    message("Confirming with your bank…");
    const name = document.querySelector('[data-testid="card-name"]').value.trim();
    const result = await page.stripe.confirmCardPayment(made.client_secret, {
      payment_method: { card: page.card, billing_details: name ? { name } : {} },
    });
    if (result.error) {
      $("card-error").textContent = result.error.message || "The payment failed.";
      message("The payment did not go through. See the advice in the live panel, then try again.", "error");
      return;
    }
    const status = result.paymentIntent && result.paymentIntent.status;
    message(status === "processing"
      ? "Submitted. Your bank is processing it; the live panel will show the outcome."
      : "Submitted. The live panel shows the confirmation as soon as it arrives.");
  });
}

async function payHosted() {
  await withBusy(async () => {
    const b = page.booking;
    message("Opening the hosted payment page…");
    const origin = window.location.origin;
    const made = await api("POST", "/api/checkout-sessions", {
      body: {
        ...orderBody(),
        line_items: b.seats.map((seat) => ({
          name: `Seat ${seat} (${category(seat).name})`,
          unit_amount: category(seat).price,
          quantity: 1,
        })),
        success_url: `${origin}/checkout/return?order=${encodeURIComponent(b.order_id)}`,
        cancel_url: `${origin}/?checkout=canceled`,
      },
      headers: { "Idempotency-Key": randomId() },
    });
    attach(made, "checkout_session");
    if (!made.url) throw new Error("The service did not return a Checkout URL.");
    window.location.assign(made.url);
    await new Promise(() => {}); // stay busy while the browser leaves
  });
}

// ---- start ----------------------------------------------------------------------------------

async function setUpStripe() {
  const config = await loadConfig();
  if (!config.publishable_key) throw new Error("The service has no Stripe publishable key.");
  const Stripe = await loadStripeJs(config.stripe_js_url);
  page.stripe = Stripe(config.publishable_key);
  const elements = page.stripe.elements();
  const mount = document.getElementById("card-element");
  mount.replaceChildren();
  page.card = elements.create("card", {
    hidePostalCode: true,
    style: { base: { fontSize: "16px", color: "#1f2430" } },
  });
  page.card.mount("#card-element");
  page.card.on("change", (event) => {
    $("card-error").textContent = event.error ? event.error.message : "";
  });
  render();
}

function main() {
  const panelRoot = $("live-panel");
  panelRoot.innerHTML = PANEL_HTML;
  page.panel = new LivePanel(panelRoot);
  page.panel.empty();
  page.fetcher = new AttemptsFetcher((paymentId, attempts) => {
    const b = page.booking;
    if (!b.payment || b.payment.payment_id !== paymentId || !page.live.state) return;
    page.live.state.attempts = attempts;
    b.live = page.live.state.toJSON();
    saveBooking(b);
    page.panel.render(page.live.state);
  });
  page.live = new LiveStatus({
    onChange: onLive,
    onConnection: (state, detail) => {
      page.panel.connection(state, detail);
      page.panel.debug(page.live);
    },
    onError: (text) => message(text, "error"),
  });
  window.paylive = page; // for people poking at the demo and for the browser tests

  $("card-form").addEventListener("submit", payByCard);
  $("pay-hosted").addEventListener("click", payHosted);
  $("new-booking").addEventListener("click", startOver);

  const params = new URLSearchParams(window.location.search);
  if (params.get("checkout") === "canceled" && page.booking.payment && !page.booking.paid) {
    const notice = $("checkout-notice");
    notice.hidden = false;
    notice.replaceChildren(
      "You came back from the hosted page without paying. That payment stays open until it expires; ",
      el("button", { type: "button", class: "link", "data-testid": "resume-hosted", onclick: payHosted, text: "resume it" }),
      ".",
    );
    window.history.replaceState(null, "", "/");
  }

  // Back from the hosted page through the browser's back-forward cache: start afresh.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });

  watch();
  render();
  setUpStripe()
    .catch((err) => {
      $("card-element").textContent = "";
      $("card-error").textContent = `Card payments are unavailable: ${err.message}`;
    })
    .finally(() => {
      document.body.dataset.ready = "true";
    });
}

main();
