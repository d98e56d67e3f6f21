// The booking page's headline: only what the live status said (the held state) decides it.
// After paying, the confirmation takes the keyboard focus and comes into view.
import { el } from "./common.js";

function view(booking, payment) {
  const seats = booking.seats;
  const one = seats.length === 1;
  if (!payment) return null;
  if (payment.status === "canceled" && payment.cancellation_reason === "expired") {
    return ["canceled", "Payment expired", "The hosted payment page expired before it was paid; no money was taken. You can pay again."];
  }
  return {
    succeeded: ["paid", "Booking confirmed", `${one ? "Seat" : "Seats"} ${seats.join(", ")} ${one ? "is" : "are"} yours. A receipt is on its way.`],
    processing: ["processing", "Payment processing", "Your bank is processing the payment; this page updates by itself."],
    requires_action: ["action", "Waiting for authentication", "Confirm the payment with your bank."],
    canceled: ["canceled", "Payment canceled", "The payment did not complete and no money was taken. You can pay again."],
  }[payment.status] || null;
}

export class ResultBanner {
  // onBookAgain(), onResume(): the buttons a paid booking and a pending 3-D Secure offer
  constructor(node, { onBookAgain, onResume }) {
    this.node = node;
    this.onBookAgain = onBookAgain;
    this.onResume = onResume;
  }

  // canResume: a 3-D Secure challenge this tab can reopen (Stripe.js and the client secret)
  render(booking, payment, { canResume }) {
    const shown = view(booking, payment);
    this.node.hidden = !shown;
    if (!shown) {
      this.node.removeAttribute("data-result");
      return;
    }
    const [kind, title, text] = shown;
    this.node.dataset.result = kind;
    this.node.className = `result r-${kind}`;
    const parts = [el("strong", { "data-testid": "result-title", text: title }), el("span", { text })];
    if (payment.status === "succeeded") {
      parts.push(el("span", {
        "data-testid": "theatre-confirmed",
        class: "muted small",
        text: booking.theatre ? "Confirmed by the theatre." : "Waiting for the theatre to confirm…",
      }));
      parts.push(el("button", { type: "button", class: "secondary", "data-testid": "book-again", onclick: this.onBookAgain, text: "Book more seats" }));
    }
    if (payment.status === "requires_action" && canResume) {
      parts.push(el("button", { type: "button", class: "secondary", "data-testid": "resume-action", onclick: this.onResume, text: "Continue with your bank" }));
    }
    this.node.replaceChildren(...parts);
  }

  announce() {
    this.node.tabIndex = -1;
    this.node.focus({ preventScroll: true });
    this.node.scrollIntoView({ block: "start", behavior: "auto" });
  }
}
