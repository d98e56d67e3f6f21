// Runs the emulator's Stripe.js shim under Node with a tiny DOM stand-in.
// Usage: node stripe_js_harness.js <script.js> <json-scenarios>; prints JSON results.
"use strict";
const fs = require("fs");
const listeners = [];
const inputs = {};
globalThis.window = globalThis;
window.addEventListener = (type, fn) => { if (type === "message") listeners.push(fn); };
window.removeEventListener = (type, fn) => {
  const i = listeners.indexOf(fn);
  if (i >= 0) listeners.splice(i, 1);
};
window.location = { href: "http://shop.test/cart", assign: (url) => { window.__redirected = url; } };
let challengeOutcome = "complete";
const challengeLog = [];
async function runChallenge(src) {
  // What a person does in the iframe: load the page, press a button.
  const page = await fetch(src);
  challengeLog.push(page.status);
  const url = new URL(src);
  const id = url.pathname.split("/").pop();
  const body = new URLSearchParams({ client_secret: url.searchParams.get("client_secret") });
  const answer = await fetch(`${url.origin}/3ds/${id}/${challengeOutcome}`, { method: "POST", body });
  const html = await answer.text();
  const status = /status:'(\w+)'/.exec(html)[1];
  listeners.slice().forEach((fn) => fn({ data: { type: "paylive-emulator-3ds", status } }));
}
globalThis.document = {
  body: { appendChild: (overlay) => { runChallenge(overlay.child.src); } },
  createElement: () => ({
    style: {}, setAttribute() {}, remove() {},
    appendChild(child) { this.child = child; },
  }),
  querySelector: () => mountPoint,
};
const mountPoint = {
  innerHTML: "",
  addEventListener() {},
  querySelector: (sel) => inputs[/name="([^"]+)"/.exec(sel)[1]],
  querySelectorAll: () => Object.values(inputs),
};
eval(fs.readFileSync(process.argv[2], "utf8"));

async function main() {
  const scenarios = JSON.parse(process.argv[3]);
  const stripe = Stripe(scenarios.pk);
  const elements = stripe.elements();
  elements.create("card").mount("#card");
  const card = elements.getElement("card");
  const changes = [];
  card.on("change", (e) => changes.push(e.complete));
  const results = [];
  const fill = (number, exp = "12/34") => {
    inputs.cardnumber = { value: number };
    inputs["exp-date"] = { value: exp };
    inputs.cvc = { value: "123" };
  };
  for (const s of scenarios.runs) {
    challengeOutcome = s.challenge || "complete";
    let res;
    const confirm = s.kind === "setup" ? "confirmCardSetup" : "confirmCardPayment";
    if (s.kind === "payment") {
      // The Payment Element: elements({ clientSecret }), create("payment"), confirmPayment.
      const group = stripe.elements({ clientSecret: s.secret, appearance: { theme: "stripe" } });
      const element = group.create("payment");
      element.mount("#payment");
      element.on("change", (e) => changes.push(`${e.elementType}:${e.complete}:${e.value.type}`));
      fill(s.card, s.exp);
      element._emit("change", element._state());
      window.__redirected = undefined;
      const confirming = stripe.confirmPayment({
        elements: group,
        confirmParams: { return_url: "/paid?order=7" },
        redirect: s.redirect || "if_required",
      });
      if (s.redirect === "always") {
        while (!window.__redirected) await new Promise((r) => setTimeout(r, 10));
        results.push({ redirected: window.__redirected.replace(s.secret, "SECRET") });
        continue;
      }
      res = await confirming;
    } else if (s.kind === "next_action") {
      // Confirmed without handling the action, then handleNextAction({ clientSecret }).
      fill(s.card);
      const first = await stripe.confirmCardPayment(s.secret, { payment_method: { card } },
        { handleActions: false });
      changes.push(`before:${first.paymentIntent.status}`);
      res = await stripe.handleNextAction({ clientSecret: s.secret });
    } else if (s.kind === "retrieve") {
      res = await stripe.retrievePaymentIntent(s.secret);
    } else if (s.kind === "retrieveSetup") {
      res = await stripe.retrieveSetupIntent(s.secret);
    } else if (s.kind === "next") {
      res = await stripe.handleNextAction({ clientSecret: s.secret });
    } else if (s.card) {
      inputs.cardnumber = { value: s.card };
      inputs["exp-date"] = { value: "12/34" };
      inputs.cvc = { value: "123" };
      card._emit("change", card._state()); // the DOM stand-in fires no input events
      res = await stripe[confirm](s.secret, {
        payment_method: { card, billing_details: { name: "Ada" } },
      });
    } else {
      res = await stripe[confirm](s.secret, { payment_method: s.pm });
    }
    const intent = res.paymentIntent || res.setupIntent;
    const failed = res.error && (res.error.payment_intent || res.error.setup_intent);
    results.push({
      status: intent ? intent.status : null,
      error: res.error ? { code: res.error.code, decline_code: res.error.decline_code,
        ...(res.error.type === "validation_error" ? { message: res.error.message } : {}),
        type: res.error.type, pi: failed && failed.id } : null,
    });
    if (intent && !intent.id.startsWith(s.kind === "setup" || s.kind === "retrieveSetup" ? "seti_" : "pi_")) {
      throw new Error("answer of the wrong kind: " + intent.id);
    }
  }
  process.stdout.write(JSON.stringify({ results, challengeLog, changes }));
}
main().catch((e) => { console.error(e); process.exit(1); });
