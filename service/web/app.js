// The booking page: seats, price, and two ways to pay; the live panel follows the payment.
// Paying by card: "Pay by card" creates the PaymentIntent (the seats are then held), the
// Payment Element is mounted for it, and "Pay" confirms it on the page.
import { CardPayment } from "./card_payment.js";
import {
  ApiError, CURRENCY, api, clearBooking, el, isFinal, loadBooking, money, newBooking,
  randomId, saveBooking,
} from "./common.js";
import { Follow } from "./follow.js";
import { LivePanel, PANEL_HTML } from "./live_panel.js";
import { MAX_SEATS, SeatMap, category, markSold, seatOrder, total, unavailable } from "./seat_map.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const page = {
  booking: loadBooking() || newBooking(),
  card: null, // CardPayment: Stripe.js and the Payment Element
  seats: null, // SeatMap
  busy: false,
  live: null, // Follow: the payment, live through paylive.js
  panel: null,
  asking: null, // the order whose confirmation the theatre is being asked for
  cardInputError: "", // what the card field itself says is wrong with the input
  attemptsBefore: null, // attempts held when this tab last confirmed; null: none since load
  confirmFailed: false,
};
saveBooking(page.booking);

function currentStatus() {
  const b = page.booking;
  return b.live && b.live.payment ? b.live.payment.status : null;
}

// A payment that can still take money holds the seats and fixes the amount.
function openPayment() {
  return Boolean(page.booking.payment) && currentStatus() !== "canceled";
}

// This booking's PaymentIntent, still payable on this page: the Payment Element is for it.
function cardPaymentOpen() {
  const b = page.booking;
  return Boolean(!b.paid && b.payment && b.payment.flow === "payment_intent" &&
    b.payment.client_secret && openPayment());
}

// ---- seats and summary ---------------------------------------------------------------------

function toggleSeat(seat) {
  const b = page.booking;
  if (b.paid || openPayment() || (unavailable().has(seat) && !b.seats.includes(seat))) return;
  if (b.seats.includes(seat)) b.seats = b.seats.filter((s) => s !== seat);
  else if (b.seats.length < MAX_SEATS) b.seats = [...b.seats, seat].sort(seatOrder);
  else return message(`At most ${MAX_SEATS} seats per booking.`, "error");
  saveBooking(b);
  render();
}

function renderSeats() {
  const b = page.booking;
  const locked = b.paid || openPayment();
  page.seats.render(b.seats, locked);
  $("seat-hint").textContent = locked ? "Seats are held for this booking." : `Up to ${MAX_SEATS} seats.`;
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
  const open = cardPaymentOpen();
  if (open && page.card.ready) page.card.mount(b.payment.client_secret);
  else if (!open) page.card.unmount();
  const price = b.seats.length ? ` ${money(total(b.seats))}` : "";
  $("card-start").hidden = open;
  $("card-start").disabled = !can || !page.card.ready;
  $("card-start").textContent = `Pay${price} by card`;
  $("card-fields").hidden = !open;
  $("pay-card").hidden = !open;
  $("pay-card").disabled = !can || !page.card.mounted;
  $("pay-card").textContent = `Pay${price}`;
  $("pay-hosted").disabled = !can;
  $("pay").hidden = b.paid;
}

// The headline: only what the live status said (the held state) decides it.
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
  if (status === "requires_action" && page.card.ready && cardPaymentOpen()) {
    parts.push(el("button", { type: "button", class: "secondary", "data-testid": "resume-action", onclick: resumeAction, text: "Continue with your bank" }));
  }
  node.replaceChildren(...parts);
}

// The customer's words for the last card attempt: the service's customer view (never
// Stripe.js' error text, which may be written for developers).
function renderCardError() {
  const state = page.live.state;
  const attempts = state && state.payment ? state.attempts() : [];
  const latest = state && state.attempt;
  let text = "";
  if (page.attemptsBefore !== null && attempts.length > page.attemptsBefore &&
      latest && latest.outcome === "failed") {
    text = latest.advice_message || "The payment did not go through.";
  } else if (page.confirmFailed) {
    text = "The payment did not go through.";
  }
  if (page.cardInputError) text = page.cardInputError;
  $("card-error").textContent = text;
}

function render() {
  renderSeats();
  renderSummary();
  renderPay();
  renderResult();
  renderCardError();
}

function message(text, kind = "info") {
  const node = $("pay-message");
  node.textContent = text;
  node.dataset.kind = kind;
}

// After paying, the confirmation is where the customer (and the keyboard focus) is.
function announceConfirmation() {
  const node = $("result");
  node.tabIndex = -1;
  node.focus({ preventScroll: true });
  node.scrollIntoView({ block: "start", behavior: "auto" });
}

function startOver() {
  if (page.busy) return;
  page.live.stop();
  clearBooking();
  page.booking = newBooking();
  saveBooking(page.booking);
  page.panel.empty();
  page.attemptsBefore = null;
  page.confirmFailed = false;
  page.cardInputError = "";
  $("checkout-notice").hidden = true;
  message("");
  render();
}

// ---- live status ----------------------------------------------------------------------------

function onLive(state) {
  const b = page.booking;
  b.live = state.toJSON();
  const status = state.payment && state.payment.status;
  const justPaid = status === "succeeded" && !b.paid;
  if (justPaid) {
    b.paid = true;
    markSold(b.seats);
    message("");
  }
  if (status === "succeeded" && !b.theatre) askTheatre(b);
  saveBooking(b);
  page.panel.render(state);
  page.panel.debug(page.live);
  if (status === "canceled" || status === "succeeded") $("checkout-notice").hidden = true;
  render();
  if (justPaid) announceConfirmation();
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
  page.live.follow(b.payment.payment_id, b.payment.status_token, b.live);
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
  if (made.client_secret) b.payment.client_secret = made.client_secret;
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
  if (err.code === "payment_not_cancelable") return "The hosted payment has already been completed.";
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

// ---- paying ---------------------------------------------------------------------------------

// "Pay by card": the PaymentIntent for this booking, and the Payment Element mounted for it.
async function startCard() {
  let started = false;
  await withBusy(async () => {
    page.confirmFailed = false;
    page.cardInputError = "";
    message("Creating the payment…");
    await abandonHosted();
    const made = await api("POST", "/api/payment-intents", {
      body: { ...orderBody(), amount: total(page.booking.seats) },
      headers: { "Idempotency-Key": randomId() },
    });
    attach(made, "payment_intent");
    message(isFinal(made.status) ? "" : "Enter your card details.");
    started = !isFinal(made.status);
  });
  if (started) page.card.focus();
}

async function payByCard(event) {
  event.preventDefault();
  await withBusy(async () => {
    page.confirmFailed = false;
    page.cardInputError = "";
    message("Confirming with your bank…");
    page.attemptsBefore = page.live.state ? page.live.state.attempts().length : 0;
    const name = $("card-name").value.trim();
    const result = await page.card.confirm({ name, returnUrl: `${window.location.origin}/` });
    if (result.error && result.error.type === "validation_error") {
      page.cardInputError = result.error.message; // the element's own words for the input
      message("");
      return;
    }
    if (result.error) {
      page.confirmFailed = true; // the live update brings the customer's words for it
      message("The payment did not go through. See the advice in the live panel, then try again.", "error");
      return;
    }
    const status = result.paymentIntent && result.paymentIntent.status;
    message(status === "processing"
      ? "Submitted. Your bank is processing it; the live panel will show the outcome."
      : "Submitted. The live panel shows the confirmation as soon as it arrives.");
  });
}

// A 3-D Secure challenge this tab started, still pending (after a reload, say).
async function resumeAction() {
  await withBusy(async () => {
    page.attemptsBefore = page.live.state ? page.live.state.attempts().length : 0;
    page.confirmFailed = false;
    const result = await page.card.resume(page.booking.payment.client_secret);
    page.confirmFailed = Boolean(result.error);
    if (!result.error) message("Submitted. The live panel shows the confirmation as soon as it arrives.");
  });
}

// This tab's own hosted Checkout, still open: give it up (the service expires it at Stripe)
// so the order can be paid another way at once. Returns whether one was abandoned.
async function abandonHosted() {
  const b = page.booking;
  const status = currentStatus();
  if (!b.payment || b.payment.flow !== "checkout_session" || status === "canceled" || status === "succeeded") {
    return false;
  }
  const canceled = await api("POST", `/api/payments/${b.payment.payment_id}/abandon`, {
    headers: { "X-Status-Token": b.payment.status_token },
  });
  if (page.live.state) page.live.state.apply({ version: canceled.version, payment: canceled });
  b.live = page.live.state ? page.live.state.toJSON() : b.live;
  saveBooking(b);
  return true;
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

// "Cancel and return" on the hosted page: the customer chose not to pay there, so this
// tab abandons its session at once and the booking can be paid another way.
function cameBackFromCheckout() {
  withBusy(async () => {
    const abandoned = await abandonHosted();
    if (!abandoned) return;
    const notice = $("checkout-notice");
    notice.hidden = false;
    notice.replaceChildren(
      "You came back from the hosted page without paying; no money was taken. " +
      "Pay by card below, or ",
      el("button", { type: "button", class: "link", "data-testid": "resume-hosted", onclick: payHosted, text: "open the hosted page again" }),
      ".",
    );
  });
}

// ---- start ----------------------------------------------------------------------------------

function main() {
  const panelRoot = $("live-panel");
  panelRoot.innerHTML = PANEL_HTML;
  page.panel = new LivePanel(panelRoot);
  page.panel.empty();
  page.seats = new SeatMap($("seatmap"), $("legend"), { onToggle: toggleSeat });
  page.card = new CardPayment("#payment-element", {
    onChange: () => {
      page.cardInputError = "";
      renderCardError();
    },
  });
  page.live = new Follow({
    onChange: onLive,
    onConnection: (state, detail) => {
      page.panel.connection(state, detail);
      page.panel.debug(page.live);
    },
    onError: (error) => {
      page.panel.connection("offline", error.message);
      message(`The live status stopped: ${error.message}`, "error");
    },
  });
  window.paylive = page; // for people poking at the demo and for the browser tests

  $("card-form").addEventListener("submit", payByCard);
  $("card-start").addEventListener("click", startCard);
  $("pay-hosted").addEventListener("click", payHosted);
  $("new-booking").addEventListener("click", startOver);

  const params = new URLSearchParams(window.location.search);
  const canceledCheckout = params.get("checkout") === "canceled" && page.booking.payment && !page.booking.paid;
  // Back from Checkout, or from a payment method that left (confirmPayment's return_url):
  // the booking in this tab says which payment; its status comes live, never from the URL.
  if (canceledCheckout || params.has("payment_intent")) window.history.replaceState(null, "", "/");

  // Back from the hosted page through the browser's back-forward cache: start afresh.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });

  watch();
  render();
  if (canceledCheckout) cameBackFromCheckout();
  page.card.load()
    .catch((err) => {
      page.cardInputError = `Card payments are unavailable: ${err.message}`;
    })
    .finally(() => {
      render(); // the Payment Element and the 3-D Secure resume button need Stripe.js
      document.body.dataset.ready = "true";
    });
}

main();
