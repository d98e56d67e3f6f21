// One payment followed live, for the demo's pages. paylive.js (served by the service at
// /paylive.js, the same module any SPA imports) does the protocol: the WebSocket, SSE when
// that cannot be opened, reconnects that resume from the version held, each version once
// and in order. This file only keeps what has arrived (across reloads, in the booking)
// and counts the connection's comings and goings for the developer view.
import { connect } from "/paylive.js";

// What has arrived for one payment: the payment, every timeline entry, the newest attempt.
export class PaymentState {
  constructor(saved) {
    this.version = (saved && saved.version) || 0;
    this.payment = (saved && saved.payment) || null;
    this.timeline = (saved && saved.timeline) || [];
    this.attempt = (saved && saved.attempt) || null; // the newest, as the customer sees it
  }

  // A paylive.js change, or the page's own answer from the API ({version, payment}):
  // entries are merged by version, the payment replaced only by a newer one, and a frame
  // whose entries record no attempt (attempt null) keeps the attempt held.
  apply({ version, payment, entries = [], attempt = null }) {
    const known = new Set(this.timeline.map((e) => e.version));
    for (const entry of entries) {
      if (!known.has(entry.version)) this.timeline.push(entry);
    }
    this.timeline.sort((a, b) => a.version - b.version);
    if (typeof version === "number" && version > this.version) {
      this.version = version;
      this.payment = payment;
    }
    if (attempt) this.attempt = attempt;
  }

  // Every attempt, oldest first, as the timeline recorded it (the customer view).
  attempts() {
    return this.timeline
      .filter((e) => e.data && e.data.attempt)
      .map((e) => ({ ...e.data.attempt, at: e.at }));
  }

  toJSON() {
    return { version: this.version, payment: this.payment, timeline: this.timeline, attempt: this.attempt };
  }
}

export class Follow {
  // handlers: onChange(state, change), onConnection(state, detail), onError(error)
  constructor(handlers) {
    this.handlers = handlers;
    this.state = null;
    this.watch = null;
    this.lives = 0; // times the connection went live while following this payment
    this.resumedFrom = null; // the version the latest (re)subscription resumed from
    this.client = connect({ onConnection: (state, detail) => this.connection(state, detail) });
  }

  // Follow `paymentId` from what `saved` holds; the same payment again changes nothing.
  follow(paymentId, token, saved) {
    if (this.watch && this.watch.active && this.watch.paymentId === paymentId) return;
    this.stop();
    this.state = new PaymentState(saved);
    this.lives = 0;
    this.watch = this.client.watch(paymentId, token, {
      sinceVersion: this.state.version,
      onChange: (change) => {
        this.state.apply(change);
        this.handlers.onChange(this.state, change);
      },
      onError: (error) => this.handlers.onError(error),
    });
    if (this.client.state === "live") this.connection("live", "");
  }

  stop() {
    if (this.watch) this.watch.unwatch();
    this.watch = null;
  }

  // paylive.js (re)subscribes, from the version its watch holds, as it goes live.
  connection(state, detail) {
    if (state === "live" && this.watch) {
      this.lives += 1;
      this.resumedFrom = this.watch.version;
    }
    this.handlers.onConnection(state, detail);
  }

  get reconnects() {
    return Math.max(0, this.lives - 1);
  }

  get transport() {
    return this.client.transport;
  }
}
