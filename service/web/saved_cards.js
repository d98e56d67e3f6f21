// "Saved cards" under My bookings: the signed-in customer's cards (GET /api/me/payment-methods)
// and one-click payment of an unpaid booking with a usable one (POST /api/payments/{id}/confirm).
// Expired and disabled cards are shown but never offered; a decline offers the other saved
// cards and a new card. Booking rows are re-rendered live by bookings.js, so the pay buttons
// are added again whenever the list changes.
import { api, el, loadConfig, loadStripeJs } from "./common.js";
import { currentUser } from "./account.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const UNPAID = new Set(["requires_payment_method", "requires_confirmation", "requires_action"]);
const notes = new Map(); // payment_id -> {text, failedCard}
let cards = [];

function label(card) {
  const month = String(card.exp_month).padStart(2, "0");
  return `${card.brand} •••• ${card.last4} · ${month}/${String(card.exp_year).slice(-2)}`;
}

function cardRow(card) {
  return el(
    "li",
    { "data-testid": "saved-card", "data-card-id": card.id, "data-usable": String(card.usable) },
    el("span", { text: label(card) }),
    card.expired ? el("span", { class: "muted", "data-testid": "card-expired", text: " · expired" }) : null,
    card.disabled
      ? el("span", { class: "muted", "data-testid": "card-disabled", text: " · can no longer be used" })
      : null,
    " ",
    el("button", {
      type: "button", class: "link", "data-testid": "remove-card", text: "Remove",
      onclick: () => remove(card.id),
    }),
  );
}

async function refresh() {
  cards = (await api("GET", "/api/me/payment-methods")).data;
  $("saved-cards").replaceChildren(...cards.map(cardRow));
  $("saved-cards-state").textContent = cards.length ? "" : "No saved cards yet.";
  decorateBookings();
}

async function remove(cardId) {
  await api("DELETE", `/api/me/payment-methods/${encodeURIComponent(cardId)}`);
  await refresh();
}

async function authenticate(result) {
  const config = await loadConfig();
  const Stripe = await loadStripeJs(config.stripe_js_url);
  const { error } = await Stripe(config.publishable_key).handleNextAction({ clientSecret: result.client_secret });
  return error ? error.message : null;
}

async function pay(paymentId, card) {
  notes.set(paymentId, { text: "Paying…" });
  decorateBookings();
  try {
    const result = await api("POST", `/api/payments/${paymentId}/confirm`, { body: { payment_method: card.id } });
    if (result.status === "requires_action") {
      const failed = await authenticate(result);
      notes.set(paymentId, failed ? { text: failed, failedCard: card.id } : { text: `Paid with ${label(card)}` });
    } else if (result.status === "requires_payment_method") {
      notes.set(paymentId, { text: result.message || "Your card was declined.", failedCard: card.id });
    } else {
      notes.set(paymentId, { text: `Paid with ${label(card)}` });
    }
  } catch (err) {
    notes.set(paymentId, { text: err.message, failedCard: card.id });
  }
  await refresh(); // a declined card may now be disabled
}

function payBox(paymentId) {
  const note = notes.get(paymentId);
  const offered = cards.filter((c) => c.usable && (!note || c.id !== note.failedCard));
  const box = el("div", { class: "pay-saved", "data-testid": "pay-saved" });
  if (note) box.append(el("p", { class: "small", "data-testid": "pay-saved-note", text: note.text }));
  if (note && note.failedCard) box.append(el("span", { class: "small", text: "Try another card: " }));
  for (const card of offered) {
    box.append(el("button", {
      type: "button", "data-testid": "pay-with-card", "data-card-id": card.id,
      text: `Pay with ${label(card)}`, onclick: () => pay(paymentId, card),
    }), " ");
  }
  if (!note || note.failedCard) {
    box.append(el("a", { href: "/", "data-testid": "pay-new-card", text: "Use a new card" }));
  }
  return box;
}

function decorateBookings() {
  for (const row of document.querySelectorAll('[data-testid="booking"]')) {
    const old = row.querySelector('[data-testid="pay-saved"]');
    if (old) old.remove();
    if (UNPAID.has(row.dataset.status) && cards.length) row.append(payBox(row.dataset.paymentId));
  }
}

async function main() {
  if (!(await currentUser())) return;
  $("saved-cards-box").hidden = false;
  // bookings.js replaces a row on every live update: put its pay buttons back.
  new MutationObserver((changes) => {
    if (changes.some((c) => [...c.addedNodes].some((n) => n.dataset && n.dataset.testid === "booking"))) {
      decorateBookings();
    }
  }).observe($("bookings"), { childList: true });
  await refresh();
  $("saved-cards-box").dataset.ready = "true";
}

main().catch((err) => {
  $("saved-cards-state").textContent = `Your saved cards are unavailable: ${err.message}`;
});
