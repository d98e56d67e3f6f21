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
window.location = { assign: (url) => { window.__redirected = url; } };
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
  for (const s of scenarios.runs) {
    challengeOutcome = s.challenge || "complete";
    let res;
    const confirm = s.kind === "setup" ? "confirmCardSetup" : "confirmCardPayment";
    if (s.kind === "retrieve") {
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
        type: res.error.type, pi: failed && failed.id } : null,
    });
    if (intent && !intent.id.startsWith(s.kind === "setup" || s.kind === "retrieveSetup" ? "seti_" : "pi_")) {
      throw new Error("answer of the wrong kind: " + intent.id);
    }
  }
  process.stdout.write(JSON.stringify({ results, challengeLog, changes }));
}
main().catch((e) => { console.error(e); process.exit(1); });
