// The booking as the service and the theatre see it: what the page sends to create a
// payment, the service's refusals in the customer's words, giving up this tab's own open
// hosted Checkout, and whether the theatre's backend has confirmed the order.
import { ApiError, CURRENCY, api, randomId } from "./common.js";
import { category, total } from "./seat_map.js";

function orderBody(b) {
  return {
    order_id: b.order_id,
    currency: CURRENCY,
    description: `The Night Mail, 14 March 19:30: seats ${b.seats.join(", ")}`,
    metadata: { seats: b.seats.join(" "), show: "night-mail-0314" },
  };
}

// The booking's PaymentIntent (the same open one again, if there is one).
export function createCardPayment(b) {
  return api("POST", "/api/payment-intents", {
    body: { ...orderBody(b), amount: total(b.seats) },
    headers: { "Idempotency-Key": randomId() },
  });
}

// A hosted Checkout Session, one line a seat; back here when paid or canceled.
export function createCheckout(b, origin) {
  return api("POST", "/api/checkout-sessions", {
    body: {
      ...orderBody(b),
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
}

// This tab's own hosted Checkout, still open (`status` as last heard): give it up (the
// service expires it at Stripe) so the order can be paid another way at once. The
// canceled payment, or null when there was none to give up.
export async function abandonHosted(b, status) {
  if (!b.payment || b.payment.flow !== "checkout_session" || status === "canceled" || status === "succeeded") {
    return null;
  }
  return api("POST", `/api/payments/${b.payment.payment_id}/abandon`, {
    headers: { "X-Status-Token": b.payment.status_token },
  });
}

export function explain(err) {
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

// The theatre's own backend hears of the payment by a signed notification (paylive's
// merchant webhooks), not from the page: ask it every half second until it has confirmed
// the order (true), or `wanted()` says to stop asking.
export async function theatreConfirms(orderId, wanted, tries = 40) {
  for (let i = 0; i < tries && wanted(); i += 1) {
    try {
      const response = await fetch(`/theatre/orders/${encodeURIComponent(orderId)}`);
      if (response.ok && (await response.json()).confirmed) return true;
    } catch {
      // the theatre's backend is not there (the service without the demo): keep asking
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}
