// paylive.js: live payment status for any web page (ES module, no dependencies).
//
//   import { connect } from "https://payments.example.com/paylive.js";
//   const live = connect({ baseUrl: "https://payments.example.com" });
//   const watch = live.watch(paymentId, token, { onChange: (c) => show(c.payment.status) });
//   watch.unwatch();  live.close();
//
// Every state reaches onChange once, in version order: a message whose version is not above
// the last one delivered is dropped, so replays after a reconnect are harmless. One
// WebSocket carries every watch; it reconnects with backoff and jitter and resubscribes
// with since_version. When a WebSocket cannot be opened (no WebSocket, or handshakes keep
// failing while plain HTTP works) each watch reads Server-Sent Events over fetch instead:
// fetch rather than EventSource so the token travels in a header (not in URLs and logs),
// reconnects follow the same backoff and resume point, and no EventSource is needed in Node.

const CLOSE_NORMAL = 1000;
const CLOSE_TOO_BIG = 1009;
const CLOSE_RESTART = 1012;
const CLOSE_IDLE = 4000;
const CLOSE_AUTH = 4001;
const CLOSE_SLOW = 4008;
const CLOSE_BAD_MESSAGE = 4400;
// Errors that end one watch (the server named its payment); others are retried.
const WATCH_FATAL = new Set([
  "payment_not_found", "too_many_subscriptions", "token_required", "token_invalid",
  "token_expired", "token_wrong_payment", "credentials_required", "invalid_since_version",
]);

const DEFAULTS = {
  baseUrl: "",
  transport: "auto", // "auto" | "websocket" | "sse"
  fallbackAfter: 3, // failed WebSocket handshakes in a row before trying SSE
  backoffMinMs: 500,
  backoffMaxMs: 15000,
  silenceMs: 60000, // the server pings every 25 s: longer silence means a dead link
  pauseWhenHidden: false,
  pauseAfterMs: 5000, // hidden this long before the connection is closed
  onConnection: null, // (state, detail) => void
};

function report(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else console.error(err);
}

function backoff(opts, retries) {
  const base = Math.min(opts.backoffMaxMs, opts.backoffMinMs * 2 ** retries);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

class PayliveError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.name = "PayliveError";
    this.code = code;
    this.status = status;
  }
}

// One caller's interest in one payment: what it has been given so far.
class Watch {
  constructor(live, paymentId, token, handlers) {
    this.live = live;
    this.paymentId = paymentId;
    this.token = token;
    this.onChange = handlers.onChange || (() => {});
    this.onError = handlers.onError || null;
    this.version = Math.max(0, Number(handlers.sinceVersion) || 0);
    this.payment = null;
    this.active = true;
    this.stream = null; // its SSE stream, when on SSE
  }

  unwatch() {
    this.live._remove(this);
  }

  // A snapshot or update: delivered only if it moves this watch forward.
  _offer(message) {
    if (!this.active || typeof message.version !== "number" || message.version <= this.version) {
      return false;
    }
    const since = this.version;
    this.version = message.version;
    this.payment = message.payment;
    const entries = (message.timeline || [])
      .filter((e) => e.version > since && e.version <= message.version)
      .sort((a, b) => a.version - b.version);
    try {
      // Every field of the frame as sent (attempt, timeline, and any added later), plus
      // paymentId and the entries this watch has not been given before.
      this.onChange({ ...message, paymentId: this.paymentId, entries });
    } catch (err) {
      report(err);
    }
    return true;
  }

  _fail(code, message, status) {
    if (!this.active) return;
    this.live._remove(this);
    const err = new PayliveError(code, message, status);
    if (this.onError) {
      try {
        this.onError(err);
      } catch (e) {
        report(e);
      }
    } else {
      report(err);
    }
  }
}

// One payment's Server-Sent Events, read with fetch; reconnects from the version held.
class SseStream {
  constructor(live, watch) {
    this.live = live;
    this.watch = watch;
    this.retries = 0;
    this.abort = null;
    this.timer = null;
    this.silence = null;
    this.stopped = false;
  }

  start() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const { live, watch } = this;
    const ctrl = new AbortController();
    this.abort = ctrl;
    const url = `${live.httpBase}/api/payments/${encodeURIComponent(watch.paymentId)}` +
      `/stream?since_version=${watch.version}`;
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${watch.token}` };
    this.heard();
    live._fetch(url, { headers, signal: ctrl.signal })
      .then((response) => this.read(response, ctrl))
      .catch((err) => {
        if (ctrl.signal.aborted || this.stopped) return;
        live._sseUnreachable(this, err);
      });
  }

  async read(response, ctrl) {
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      const error = (body && body.error) || {};
      const code = error.code || `http_${response.status}`;
      if ([401, 403, 404, 400].includes(response.status) || WATCH_FATAL.has(code)) {
        this.watch._fail(code, error.message, response.status);
      } else {
        this.again(`HTTP ${response.status}`);
      }
      return;
    }
    this.live._sseReached();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.stopped) break;
      this.heard();
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        this.event(block);
      }
    }
    if (!ctrl.signal.aborted && !this.stopped) this.again("stream ended");
  }

  event(block) {
    let type = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue; // a ping
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    let message;
    try {
      message = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    if (type === "error" || message.type === "error") {
      if (WATCH_FATAL.has(message.code)) this.watch._fail(message.code, message.message);
      return;
    }
    if (message.type === "snapshot" || message.type === "update") {
      if (this.watch._offer(message) || message.type === "snapshot") this.retries = 0;
    }
  }

  heard() {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.again("silent"), this.live.opts.silenceMs);
  }

  again(why) {
    if (this.stopped) return;
    this.halt();
    const delay = backoff(this.live.opts, this.retries);
    this.retries += 1;
    this.live._state("reconnecting", `${why}; retrying in ${delay} ms`);
    this.timer = setTimeout(() => this.start(), delay);
  }

  halt() {
    clearTimeout(this.timer);
    clearTimeout(this.silence);
    if (this.abort) this.abort.abort();
    this.abort = null;
  }

  stop() {
    this.stopped = true;
    this.halt();
  }
}

class Live {
  constructor(options) {
    this.opts = { ...DEFAULTS, ...options };
    const base = String(this.opts.baseUrl || (globalThis.location && globalThis.location.origin) || "");
    this.httpBase = base.replace(/\/+$/, "");
    if (!/^https?:\/\//.test(this.httpBase)) {
      throw new TypeError("connect({ baseUrl }): an http(s) URL is needed outside a web page");
    }
    this.wsUrl = this.httpBase.replace(/^http/, "ws") + "/ws";
    const WS = "WebSocket" in this.opts ? this.opts.WebSocket : globalThis.WebSocket;
    this.WebSocket = WS || null;
    this._fetch = this.opts.fetch || ((...args) => globalThis.fetch(...args));
    this.doc = "document" in this.opts ? this.opts.document : globalThis.document;
    this.watches = new Set();
    this.transport = this.opts.transport === "sse" || !this.WebSocket ? "sse" : "websocket";
    this.ws = null;
    this.retries = 0;
    this.failures = 0; // WebSocket handshakes failed in a row
    this.sseConfirmed = this.transport === "sse";
    this.timer = null;
    this.silence = null;
    this.pendingAuth = null; // the error that precedes a 4001 close
    this.paused = false;
    this.closed = false;
    this.state = "idle";
    this.sockets = 0; // WebSockets opened (for tests and diagnostics)
    this.hideTimer = null;
    this.onVisibility = () => this._visibility();
    if (this.opts.pauseWhenHidden && this.doc && this.doc.addEventListener) {
      this.doc.addEventListener("visibilitychange", this.onVisibility);
      // Opened in a background tab: connect only once it is shown.
      if (this.doc.visibilityState === "hidden") {
        this.paused = true;
        this.state = "paused";
      }
    }
  }

  watch(paymentId, token, handlers = {}) {
    if (this.closed) throw new PayliveError("closed", "this connection was closed");
    if (!paymentId || !token) throw new TypeError("watch(paymentId, token): both are required");
    const watch = new Watch(this, String(paymentId), String(token), handlers);
    this.watches.add(watch);
    if (this.paused) return watch;
    if (this.transport === "sse") this._startStream(watch);
    else if (this._open()) this._subscribe(watch.paymentId);
    else if (!this.timer) this._connect();
    return watch;
  }

  close() {
    if (this.closed) return;
    for (const watch of [...this.watches]) this._remove(watch);
    this.closed = true;
    this._stopAll();
    clearTimeout(this.hideTimer);
    if (this.doc && this.doc.removeEventListener) {
      this.doc.removeEventListener("visibilitychange", this.onVisibility);
    }
    this._state("closed");
  }

  // ---- bookkeeping ----------------------------------------------------------------------

  _remove(watch) {
    if (!this.watches.delete(watch)) return;
    watch.active = false;
    if (watch.stream) watch.stream.stop();
    watch.stream = null;
    const others = [...this.watches].some((w) => w.paymentId === watch.paymentId);
    if (!others) this._send({ type: "unsubscribe", payment_id: watch.paymentId });
    if (!this.watches.size) this._stopAll();
  }

  _state(state, detail = "") {
    if (this.state === state && !detail) return;
    this.state = state;
    if (this.opts.onConnection) {
      try {
        this.opts.onConnection(state, detail);
      } catch (err) {
        report(err);
      }
    }
  }

  _stopAll() {
    clearTimeout(this.timer);
    clearTimeout(this.silence);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) this._detach(ws, CLOSE_NORMAL, "done");
    for (const watch of this.watches) {
      if (watch.stream) watch.stream.stop();
      watch.stream = null;
    }
    if (!this.closed) this._state(this.paused ? "paused" : "idle");
  }

  // ---- WebSocket ----------------------------------------------------------------------

  _open() {
    return Boolean(this.ws && this.ws.readyState === 1);
  }

  _connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.closed || this.paused || this.ws || !this.watches.size) return;
    if (this.transport === "sse") return;
    this._state(this.retries ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new this.WebSocket(this.wsUrl);
    } catch (err) {
      this._handshakeFailed(`cannot open: ${err.message}`);
      return;
    }
    this.sockets += 1;
    this.ws = ws;
    ws.opened = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      ws.opened = true;
      this.failures = 0;
      this._state("live");
      this._heard();
      const seen = new Set();
      for (const watch of this.watches) {
        if (!seen.has(watch.paymentId)) this._subscribe(watch.paymentId);
        seen.add(watch.paymentId);
      }
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this._heard();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this._receive(message);
    };
    // Node 20 fires error without close when a handshake fails: either one ends the socket.
    ws.onerror = () => this._dropped(ws, 1006, "connection error");
    ws.onclose = (event) => this._dropped(ws, event.code, event.reason);
  }

  _detach(ws, code, reason) {
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    try {
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  _dropped(ws, code, reason) {
    if (this.ws !== ws) return; // an old socket, already replaced or closed by us
    this.ws = null;
    clearTimeout(this.silence);
    this._detach(ws, CLOSE_NORMAL, "");
    if (this.closed || this.paused) return;
    const pending = this.pendingAuth;
    this.pendingAuth = null;
    if (!ws.opened) {
      this._handshakeFailed(`handshake failed (${code})`);
      return;
    }
    if (code === CLOSE_AUTH && pending) {
      // The server named the payment whose credential it refused; the others go on.
      for (const watch of [...this.watches]) {
        if (watch.paymentId === pending.payment_id) watch._fail(pending.code, pending.message);
      }
      if (this.watches.size) this._later(0, "resubscribing the others");
      return;
    }
    if (code === CLOSE_BAD_MESSAGE || code === CLOSE_TOO_BIG || code === CLOSE_AUTH) {
      for (const watch of [...this.watches]) watch._fail(pending ? pending.code : "refused", reason);
      return;
    }
    if (!this.watches.size) return;
    // A restart closes everyone at once: spread the reconnects. Slow or idle: resync now.
    const quick = code === CLOSE_RESTART || code === CLOSE_SLOW || code === CLOSE_IDLE;
    const delay = quick ? Math.round(Math.random() * this.opts.backoffMinMs) : this._nextDelay();
    this._later(delay, `closed (${code}${reason ? " " + reason : ""})`);
  }

  _handshakeFailed(why) {
    this.failures += 1;
    if (this.opts.transport === "auto" && this.failures >= this.opts.fallbackAfter) {
      this._useSse(why);
      return;
    }
    this._later(this._nextDelay(), why);
  }

  _nextDelay() {
    const delay = backoff(this.opts, this.retries);
    this.retries += 1;
    return delay;
  }

  _later(delay, why) {
    clearTimeout(this.timer);
    this._state("reconnecting", `${why}; retrying in ${delay} ms`);
    this.timer = setTimeout(() => this._connect(), delay);
  }

  _heard() {
    clearTimeout(this.silence);
    const ws = this.ws;
    this.silence = setTimeout(() => this._dropped(ws, 1006, "silent"), this.opts.silenceMs);
  }

  _send(message) {
    if (this._open()) this.ws.send(JSON.stringify(message));
  }

  _subscribe(paymentId) {
    const group = [...this.watches].filter((w) => w.paymentId === paymentId);
    if (!group.length) return;
    const since = Math.min(...group.map((w) => w.version));
    const token = group[group.length - 1].token;
    this._send({ type: "subscribe", payment_id: paymentId, token, since_version: since });
  }

  _receive(message) {
    if (message.type === "error") {
      if (!message.payment_id) return;
      if (/^token|^credentials/.test(message.code || "")) {
        this.pendingAuth = message; // the 4001 close follows
        return;
      }
      if (WATCH_FATAL.has(message.code)) {
        for (const watch of [...this.watches]) {
          if (watch.paymentId === message.payment_id) watch._fail(message.code, message.message);
        }
      }
      return;
    }
    if (message.type !== "snapshot" && message.type !== "update") return;
    let moved = false;
    for (const watch of [...this.watches]) {
      if (watch.paymentId === message.payment_id) moved = watch._offer(message) || moved;
    }
    if (moved || message.type === "snapshot") this.retries = 0;
  }

  // ---- SSE fallback ---------------------------------------------------------------------

  _useSse(why) {
    this.transport = "sse";
    this._state("reconnecting", `${why}; trying Server-Sent Events`);
    for (const watch of this.watches) this._startStream(watch);
  }

  _startStream(watch) {
    if (watch.stream || this.paused || this.closed) return;
    watch.stream = new SseStream(this, watch);
    watch.stream.start();
  }

  _sseReached() {
    this.sseConfirmed = true;
    this._state("live");
  }

  // SSE failed below HTTP: if SSE never worked here, the server is down rather than
  // WebSockets blocked, so go back to trying the WebSocket.
  _sseUnreachable(stream, err) {
    if (this.sseConfirmed || this.opts.transport !== "auto" || !this.WebSocket) {
      stream.again(`unreachable: ${err && err.message}`);
      return;
    }
    this.transport = "websocket";
    this.failures = 0;
    for (const watch of this.watches) {
      if (watch.stream) watch.stream.stop();
      watch.stream = null;
    }
    this._later(this._nextDelay(), "server unreachable");
  }

  // ---- page visibility ------------------------------------------------------------------

  _visibility() {
    clearTimeout(this.hideTimer);
    if (this.closed) return;
    if (this.doc.visibilityState === "hidden") {
      this.hideTimer = setTimeout(() => this._pause(), this.opts.pauseAfterMs);
    } else if (this.paused) {
      this.paused = false;
      this._resume();
    }
  }

  _pause() {
    this.paused = true;
    this._stopAll();
  }

  _resume() {
    this.retries = 0;
    if (this.transport === "sse") {
      for (const watch of this.watches) this._startStream(watch);
    } else {
      this._connect();
    }
  }
}

export function connect(options = {}) {
  return new Live(options);
}

export { PayliveError };
