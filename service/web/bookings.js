// "My bookings": the signed-in customer's payments (GET /api/me/payments), each followed
// live through paylive.js on one connection. The credential is the customer's session
// token (a status token is for one payment; the session token works for all of theirs),
// and the service refuses any payment that is not this user's.
import { connect } from "/paylive.js";
import { currentUser, sessionToken, signInUrl } from "./account.js";
import { api, el, loadConfig, money, statusText } from "./common.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const rows = new Map(); // payment_id -> {node}

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
  rows.set(payment.payment_id, { node });
}

function onChange({ payment }) {
  const prior = rows.get(payment.payment_id);
  render(payment);
  if (prior && prior.node.dataset.status !== payment.status) {
    rows.get(payment.payment_id).node.classList.add("changed");
  }
}

// One connection for every booking; each watch starts above the version listed, so only
// what changes afterwards arrives.
function follow(payments) {
  const live = connect({
    onConnection: (state) => { document.body.dataset.live = String(state === "live"); },
  });
  const token = sessionToken();
  for (const payment of payments) {
    live.watch(payment.payment_id, token, {
      sinceVersion: payment.version,
      onChange,
      onError: (error) => {
        const row = rows.get(payment.payment_id);
        if (row) row.node.title = `Not updated live: ${error.message}`;
      },
    });
  }
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
  if (page.data.length) follow(page.data);
}

main().catch((err) => {
  $("bookings-state").textContent = `Your bookings are unavailable: ${err.message}`;
  document.body.dataset.ready = "true";
});
