// The booking page: seats, price, and two ways to pay; the live panel follows the payment.
// Paying by card: "Pay by card" creates the PaymentIntent (the seats are then held), the
// Payment Element is mounted for it, and "Pay" confirms it on the page.
import { CardPayment, cardErrorText } from "./card_payment.js";
import { clearBooking, el, isFinal, loadBooking, money, newBooking, saveBooking } from "./common.js";
import { Follow } from "./follow.js";
import { LivePanel, PANEL_HTML } from "./live_panel.js";
import { abandonHosted, createCardPayment, createCheckout, explain, theatreConfirms } from "./orders.js";
import { ResultBanner } from "./result_banner.js";
import { MAX_SEATS, SeatMap, category, markSold, seatOrder, total, unavailable } from "./seat_map.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const page = {
  booking: loadBooking() || newBooking(),
  card: null, // CardPayment: Stripe.js and the Payment Element
  seats: null, // SeatMap
  result: null, // ResultBanner: the headline
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

function renderCardError() {
  const { attemptsBefore, confirmFailed, cardInputError: inputError } = page;
  $("card-error").textContent = cardErrorText(page.live.state, { attemptsBefore, confirmFailed, inputError });
}

function render() {
  renderSeats();
  renderSummary();
  renderPay();
  const b = page.booking;
  page.result.render(b, b.live && b.live.payment, {
    canResume: page.card.ready && cardPaymentOpen(),
  });
  renderCardError();
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
  page.attemptsBefore = null;
  page.confirmFailed = false;
  page.cardInputError = "";
  $("checkout-notice").hidden = true;
  message("");
  render();
}

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
  if (justPaid) page.result.announce();
}

// The theatre confirms the booking once paylive's merchant notification reached it.
async function askTheatre(b) {
  if (page.asking === b.order_id) return;
  page.asking = b.order_id;
  if (await theatreConfirms(b.order_id, () => page.booking === b && !b.theatre)) {
    b.theatre = true;
    saveBooking(b);
    render();
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

// "Pay by card": the PaymentIntent for this booking, and the Payment Element mounted for it.
async function startCard() {
  let started = false;
  await withBusy(async () => {
    page.confirmFailed = false;
    page.cardInputError = "";
    message("Creating the payment…");
    await giveUpHosted();
    const made = await createCardPayment(page.booking);
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

// This tab's own open hosted Checkout, given up: the booking holds the canceled payment
// at once (its update follows live). Returns whether there was one.
async function giveUpHosted() {
  const b = page.booking;
  const canceled = await abandonHosted(b, currentStatus());
  if (!canceled) return false;
  if (page.live.state) page.live.state.apply({ version: canceled.version, payment: canceled });
  b.live = page.live.state ? page.live.state.toJSON() : b.live;
  saveBooking(b);
  return true;
}

async function payHosted() {
  await withBusy(async () => {
    message("Opening the hosted payment page…");
    const made = await createCheckout(page.booking, window.location.origin);
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
    if (!(await giveUpHosted())) return;
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

function main() {
  const panelRoot = $("live-panel");
  panelRoot.innerHTML = PANEL_HTML;
  page.panel = new LivePanel(panelRoot);
  page.panel.empty();
  page.seats = new SeatMap($("seatmap"), $("legend"), { onToggle: toggleSeat });
  page.result = new ResultBanner($("result"), { onBookAgain: startOver, onResume: resumeAction });
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
