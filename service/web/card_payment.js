// Paying by card on the booking page: Stripe's Payment Element, mounted for the booking's
// PaymentIntent (its client secret: a new PaymentIntent gets a fresh element), confirmed
// with confirmPayment; a 3-D Secure challenge left open by a reload is reopened with
// handleNextAction. Stripe.js comes from the URL the service names: the emulator's
// offline, js.stripe.com with real keys.
import { loadConfig, loadStripeJs } from "./common.js";

const APPEARANCE = {
  theme: "stripe",
  variables: { fontFamily: "system-ui, sans-serif", fontSizeBase: "16px", colorText: "#1f2430" },
};

export class CardPayment {
  // onChange(event): the element's change event (the customer typing)
  constructor(selector, { onChange }) {
    this.selector = selector;
    this.onChange = onChange;
    this.stripe = null;
    this.elements = null;
    this.element = null;
    this.secret = null;
  }

  async load() {
    const config = await loadConfig();
    if (!config.publishable_key) throw new Error("The service has no Stripe publishable key.");
    const Stripe = await loadStripeJs(config.stripe_js_url);
    this.stripe = Stripe(config.publishable_key);
  }

  get ready() {
    return Boolean(this.stripe);
  }

  get mounted() {
    return Boolean(this.element);
  }

  // The Payment Element for this PaymentIntent; mounting the same one again does nothing.
  mount(clientSecret) {
    if (!this.stripe || (this.element && this.secret === clientSecret)) return;
    this.unmount();
    this.elements = this.stripe.elements({ clientSecret, appearance: APPEARANCE });
    this.element = this.elements.create("payment");
    document.querySelector(this.selector).replaceChildren();
    this.element.mount(this.selector);
    this.element.on("change", (event) => this.onChange(event));
    this.secret = clientSecret;
  }

  unmount() {
    if (this.element) this.element.destroy();
    this.elements = this.element = this.secret = null;
  }

  focus() {
    if (this.element) this.element.focus();
  }

  // Cards stay on the page (3-D Secure opens over it); a method that must leave comes
  // back to returnUrl, where the booking page follows the same payment.
  confirm({ name, returnUrl }) {
    return this.stripe.confirmPayment({
      elements: this.elements,
      confirmParams: {
        return_url: returnUrl,
        payment_method_data: { billing_details: name ? { name } : {} },
      },
      redirect: "if_required",
    });
  }

  resume(clientSecret) {
    return this.stripe.handleNextAction({ clientSecret });
  }
}

// What the card form says under the card, in the customer's words: the element's own
// words for an unfinished input, else the service's customer view of the newest attempt
// once one failed since this tab confirmed (never Stripe.js' error text, which may be
// written for developers). `state`: follow.js's PaymentState, or null.
export function cardErrorText(state, { attemptsBefore, confirmFailed, inputError }) {
  if (inputError) return inputError;
  const attempts = state && state.payment ? state.attempts() : [];
  const latest = state && state.attempt;
  if (attemptsBefore !== null && attempts.length > attemptsBefore && latest && latest.outcome === "failed") {
    return latest.advice_message || "The payment did not go through.";
  }
  return confirmFailed ? "The payment did not go through." : "";
}
