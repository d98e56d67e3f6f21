// The live panel: what paylive.js brought (follow.js holds it), rendered. The customer's
// view (status, amount, what to do next, attempts) by default; behind a toggle the
// developer's (versions, payment id, timeline event names, codes, the connection).
// Every frame carries `attempt`, the newest attempt as the customer may see it (the
// service's customer view), so the page never re-reads /attempts.
import { el, money, statusText } from "./common.js";

const OUTCOME_TEXT = {
  failed: "Declined",
  succeeded: "Paid",
  requires_action: "Waiting for your bank",
  processing: "Processing",
  canceled: "Canceled",
};

function time(at) {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString("en-GB");
}

function card(brand, last4) {
  if (!last4) return brand || "card";
  return `${brand ? brand[0].toUpperCase() + brand.slice(1) : "Card"} •••• ${last4}`;
}

export class LivePanel {
  constructor(root) {
    this.root = root;
    this.q = (id) => root.querySelector(`[data-testid="${id}"]`);
    this.root.dataset.view = "customer";
    this.q("view-toggle").addEventListener("click", () => this.toggleView());
  }

  toggleView() {
    const developer = this.root.dataset.view !== "developer";
    this.root.dataset.view = developer ? "developer" : "customer";
    const button = this.q("view-toggle");
    button.setAttribute("aria-expanded", String(developer));
    button.textContent = developer ? "Hide developer details" : "Show developer details";
  }

  connection(state, detail) {
    const node = this.q("connection");
    node.dataset.state = state;
    const label = {
      idle: "Not connected",
      connecting: "Connecting…",
      live: "Live",
      reconnecting: "Reconnecting…",
      paused: "Paused",
      closed: "Not connected",
      offline: "Offline",
    }[state] || state;
    node.querySelector(".label").textContent = label;
    node.title = detail || label;
    this.q("connection-detail").textContent = state === "live" ? "" : detail;
  }

  // The connection as paylive.js runs it (follow.js counts): for developers and tests.
  debug(follow) {
    this.root.dataset.reconnects = String(follow.reconnects);
    this.root.dataset.lastSinceVersion = follow.resumedFrom === null ? "" : String(follow.resumedFrom);
    this.root.dataset.transport = follow.transport;
    this.q("live-transport").textContent = follow.transport === "sse" ? "Server-Sent Events" : "WebSocket";
  }

  // Nothing of a previous payment stays on screen.
  empty() {
    this.root.dataset.status = "";
    this.root.dataset.version = "0";
    this.q("live-status").textContent = "No payment yet";
    this.q("live-status").dataset.status = "";
    for (const id of ["live-version", "live-payment-id", "live-amount", "live-flow"]) {
      this.q(id).textContent = "—";
    }
    this.q("live-message").textContent = "";
    this.q("timeline").replaceChildren();
    this.q("attempts").replaceChildren();
    this.q("attempts-empty").hidden = false;
  }

  render(state) {
    const p = state.payment;
    if (!p) return;
    this.root.dataset.status = p.status;
    this.root.dataset.version = String(state.version);
    const badge = this.q("live-status");
    badge.textContent = statusText(p.status) +
      (p.status === "canceled" && p.cancellation_reason ? ` (${p.cancellation_reason})` : "");
    badge.dataset.status = p.status;
    this.q("live-version").textContent = String(state.version);
    this.q("live-payment-id").textContent = p.payment_id;
    this.q("live-amount").textContent = money(p.amount, p.currency) +
      (p.amount_refunded ? ` (refunded ${money(p.amount_refunded, p.currency)})` : "");
    this.q("live-flow").textContent = p.flow === "checkout_session" ? "Hosted Checkout" : "Card on page";
    const latest = state.attempt;
    this.q("live-message").textContent =
      latest && p.status !== "succeeded" && latest.advice_message ? latest.advice_message : "";
    this.renderTimeline(state.timeline);
    this.renderAttempts(state.attempts());
  }

  renderTimeline(entries) {
    const list = this.q("timeline");
    list.replaceChildren(
      ...[...entries].reverse().map((e) => {
        const a = e.data && e.data.attempt;
        const note = a && a.decline_code ? ` · ${a.decline_code}` : a && a.error_code ? ` · ${a.error_code}` : "";
        return el("li", {
          "data-testid": "timeline-entry",
          "data-version": e.version,
          "data-kind": e.kind,
          "data-status": e.status,
        },
        el("span", { class: "v", text: `v${e.version}` }),
        el("span", { class: "kind" },
          el("span", { text: e.kind.replaceAll(".", ".\u200b").replaceAll("_", "_\u200b") + note }),
          el("time", { text: time(e.at) })),
        el("span", { class: `pill s-${e.status}`, text: e.status.replaceAll("_", " ") }));
      }),
    );
  }

  // The attempts as the service's customer view gives them (flat, nothing rebuilt); the
  // codes and the retry flag are for developers only.
  renderAttempts(attempts) {
    const list = this.q("attempts");
    this.q("attempts-empty").hidden = attempts.length > 0;
    list.replaceChildren(
      ...attempts.map((a, i) => {
        const codes = [a.error_code, a.decline_code].filter(Boolean)
          .filter((v, j, all) => all.indexOf(v) === j).join(" / ");
        const failed = a.outcome === "failed";
        return el("li", { "data-testid": "attempt", "data-outcome": a.outcome, class: `attempt o-${a.outcome}` },
          el("div", { class: "attempt-head" },
            el("strong", { text: `#${i + 1}` }),
            el("span", { class: `pill o-${a.outcome}`, "data-testid": "attempt-outcome", text: OUTCOME_TEXT[a.outcome] || a.outcome.replaceAll("_", " ") }),
            a.card_last4 ? el("span", { class: "card", text: card(a.card_brand, a.card_last4) }) : null,
            el("time", { text: time(a.at) })),
          codes && el("div", { class: "attempt-error dev", "data-testid": "attempt-error" }, el("code", { text: codes })),
          a.advice_next_step && el("div", {
            class: "advice",
            "data-testid": "attempt-advice",
            "data-next-step": a.advice_next_step,
            "data-retryable": String(Boolean(a.advice_retryable)),
          },
          a.advice_message ? el("span", { class: "advice-msg", text: a.advice_message }) : null,
          el("span", {
            class: "advice-step dev",
            text: `next_step: ${a.advice_next_step}` + (failed ? ` · retryable: ${a.advice_retryable ? "yes" : "no"}` : ""),
          })));
      }),
    );
  }
}

export const PANEL_HTML = `
  <div class="panel-head">
    <h2>Live payment status</h2>
    <span class="connection" data-testid="connection" data-state="idle"><span class="dot"></span><span class="label">Not connected</span></span>
  </div>
  <p class="connection-detail" data-testid="connection-detail"></p>
  <dl class="facts">
    <dt>Status</dt><dd><span class="status-badge" data-testid="live-status">No payment yet</span></dd>
    <dt>Amount</dt><dd data-testid="live-amount">—</dd>
    <dt>Method</dt><dd data-testid="live-flow">—</dd>
    <dt class="dev">Version</dt><dd class="dev" data-testid="live-version">—</dd>
    <dt class="dev">Payment</dt><dd class="dev mono small" data-testid="live-payment-id">—</dd>
    <dt class="dev">Over</dt><dd class="dev" data-testid="live-transport">—</dd>
  </dl>
  <p class="live-message" data-testid="live-message"></p>
  <h3>Attempts</h3>
  <p class="muted small" data-testid="attempts-empty">No attempts yet.</p>
  <ol class="attempts" data-testid="attempts"></ol>
  <div class="dev" id="live-developer" data-testid="developer-view">
    <h3>Timeline</h3>
    <ol class="timeline" data-testid="timeline"></ol>
    <p class="muted small">Everything in this panel arrives live through <code>paylive.js</code>
    (a WebSocket at <code>/ws</code>, or Server-Sent Events where that cannot be opened): each
    message carries the payment, its new timeline entries and its newest attempt.</p>
  </div>
  <button type="button" class="link" data-testid="view-toggle" aria-expanded="false"
    aria-controls="live-developer">Show developer details</button>`;
