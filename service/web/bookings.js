// "My bookings": the signed-in customer's payments (GET /api/me/payments), each followed
// live over one WebSocket. Subscriptions carry no token: the upgrade request's __session
// cookie is the credential, and the service refuses any payment that is not this user's.
import { api, el, loadConfig, money, statusText } from "./common.js";
import { currentUser, signInUrl } from "./account.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const rows = new Map(); // payment_id -> {node, version}
let ws = null;
let retry = 0;

function paidMark(status) {
  if (status === "succeeded") return el("span", { class: "paid", "data-testid": "paid-mark", text: "Paid ✓" });
  return el("span", { class: "muted", "data-testid": "unpaid-mark", text: statusText(status) });
}

function render(payment) {
  const row = rows.get(payment.payment_id);
  const node = el(
    "li",
    { "data-testid": "booking", "data-payment-id": payment.payment_id, "data-order-id": payment.order_id,
      "data-status": payment.status, "data-version": payment.version },
    el("code", { "data-testid": "booking-order", text: payment.order_id }),
    " ",
    el("strong", { text: money(payment.amount, payment.currency) }),
    " ",
    paidMark(payment.status),
    payment.amount_refunded ? el("span", { class: "muted", text: ` · refunded ${money(payment.amount_refunded, payment.currency)}` }) : null,
  );
  if (row) row.node.replaceWith(node);
  else $("bookings").append(node);
  rows.set(payment.payment_id, { node, version: payment.version });
}

function onMessage(event) {
  const message = JSON.parse(event.data);
  if (message.type !== "snapshot" && message.type !== "update") return;
  const row = rows.get(message.payment_id);
  if (row && message.version <= row.version) return; // versions only grow
  const prior = row ? row.node : null;
  render({ ...message.payment, refunds: [] });
  if (prior && prior.dataset.status !== message.payment.status) {
    rows.get(message.payment_id).node.classList.add("changed");
  }
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${scheme}//${window.location.host}/ws`);
  ws.onopen = () => {
    retry = 0;
    document.body.dataset.live = "true";
    for (const [paymentId, row] of rows) {
      ws.send(JSON.stringify({ type: "subscribe", payment_id: paymentId, since_version: row.version }));
    }
  };
  ws.onmessage = onMessage;
  ws.onclose = () => {
    document.body.dataset.live = "false";
    retry += 1;
    setTimeout(connect, Math.min(10_000, 250 * 2 ** retry));
  };
}

async function main() {
  const user = await currentUser();
  if (!user) {
    const config = await loadConfig();
    $("bookings-state").replaceChildren(
      "Sign in to see your bookings. ",
      el("a", { href: signInUrl(config), "data-testid": "bookings-sign-in", text: "Sign in" }),
    );
    document.body.dataset.ready = "true";
    return;
  }
  const page = await api("GET", "/api/me/payments?limit=50");
  for (const payment of page.data) render(payment);
  $("bookings-state").textContent = page.data.length ? "" : "No bookings yet.";
  document.body.dataset.ready = "true";
  if (page.data.length) connect();
}

main().catch((err) => {
  $("bookings-state").textContent = `Your bookings are unavailable: ${err.message}`;
  document.body.dataset.ready = "true";
});
