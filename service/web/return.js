// Back from Stripe's hosted Checkout: follow the same payment live (paylive.js).
// The result shown is what the live status says, never the URL the browser came back on.
import { currentUser } from "./account.js";
import { el, loadBooking, money, saveBooking } from "./common.js";
import { Follow } from "./follow.js";
import { LivePanel, PANEL_HTML } from "./live_panel.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const VIEWS = {
  succeeded: ["paid", "Payment received — booking confirmed", "Your seats are booked. A receipt is on its way."],
  processing: ["processing", "Payment processing", "Your bank is still processing the payment; this page updates by itself."],
  requires_action: ["action", "Waiting for authentication", "The bank is waiting for you to confirm the payment."],
  canceled: ["canceled", "Payment canceled", "The hosted payment expired or was canceled; no money was taken."],
};
const WAITING = ["waiting", "Confirming your payment…", "Waiting for Stripe to confirm the payment."];

function show([result, title, text]) {
  const node = $("result");
  node.dataset.result = result;
  node.className = `result r-${result}`;
  $("result-title").textContent = title;
  $("result-text").textContent = text;
}

// Signed in: once the live status confirms the payment (never on a timer), show My bookings.
async function showMyBookings(paymentId) {
  if (await currentUser()) window.location.assign(`/bookings?paid=${encodeURIComponent(paymentId)}`);
}

function main() {
  const booking = loadBooking();
  const params = new URLSearchParams(window.location.search);
  const panelRoot = $("live-panel");
  panelRoot.innerHTML = PANEL_HTML;
  const panel = new LivePanel(panelRoot);
  panel.empty();
  if (!booking || !booking.payment || (params.get("order") && params.get("order") !== booking.order_id)) {
    show(["unknown", "We can't show this payment here", "Open the booking page in the tab you paid from."]);
    document.body.dataset.ready = "true";
    return;
  }
  $("order-id").textContent = booking.order_id;
  $("lines").replaceChildren(...booking.seats.map((s) => el("li", { "data-testid": "line", text: `Seat ${s}` })));
  const { payment_id: paymentId, status_token: token } = booking.payment;
  let announced = false;
  const showState = (state) => {
    const status = state.payment && state.payment.status;
    if (status === "succeeded" && !announced) {
      announced = true; // the confirmation is where the customer and the focus are
      $("result").focus({ preventScroll: true });
      $("result").scrollIntoView({ block: "start" });
    }
    show(VIEWS[status] || WAITING);
    if (state.payment) $("result-text").textContent += ` (${money(state.payment.amount, state.payment.currency)})`;
  };
  const live = new Follow({
    onChange: (state) => {
      booking.live = state.toJSON();
      if (state.payment && state.payment.status === "succeeded") {
        booking.paid = true;
        showMyBookings(state.payment.payment_id);
      }
      saveBooking(booking);
      panel.render(state);
      panel.debug(live);
      showState(state);
    },
    onConnection: (state, detail) => {
      panel.connection(state, detail);
      panel.debug(live);
    },
    onError: (error) => {
      panel.connection("offline", error.message);
      show(["unknown", "The payment's status is unavailable", error.message]);
    },
  });
  window.paylive = { booking, live, panel };
  live.follow(paymentId, token, booking.live);
  if (booking.live && booking.live.payment) {
    panel.render(live.state);
    showState(live.state);
  }
  document.body.dataset.ready = "true";
}

main();
