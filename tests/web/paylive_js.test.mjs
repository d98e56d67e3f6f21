// paylive.js against the running service (started by tests/web/test_paylive_js.py).
// Run by pytest: node --experimental-websocket --test tests/web/paylive_js.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { connect } from "../../service/web/paylive.js";
import {
  Recorder, SERVICE, advance, makePayments, resources, restartService, sleep, slowCloses,
  startProxy, until,
} from "./support.mjs";

const FAST = { backoffMinMs: 50, backoffMaxMs: 400 };

// A WebSocket that counts how many were opened.
function countingWebSocket() {
  const counter = { opened: 0 };
  counter.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      counter.opened += 1;
    }
  };
  return counter;
}

// A WebSocket that keeps every frame the server sent it, parsed.
function recordingWebSocket() {
  const recorder = { frames: [] };
  recorder.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => recorder.frames.push(JSON.parse(event.data)));
    }
  };
  return recorder;
}

// The field names paylive.d.ts declares for one of its interfaces.
function declared(name) {
  const types = readFileSync(new URL("../../service/web/paylive.d.ts", import.meta.url), "utf8");
  const body = types.split(`export interface ${name} {`)[1].split("\n}")[0];
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]).sort();
}

test("passes every field of a frame through, the customer's attempt included", async () => {
  const recorder = recordingWebSocket();
  const live = connect({ baseUrl: SERVICE, ...FAST, WebSocket: recorder.WebSocket });
  const sse = connect({ baseUrl: SERVICE, ...FAST, transport: "sse" });
  const [p] = await makePayments();
  const seen = new Recorder();
  const overSse = new Recorder();
  live.watch(p.payment_id, p.token, seen);
  sse.watch(p.payment_id, p.token, overSse);
  await until(() => seen.version >= 1 && overSse.version >= 1, "the snapshots");
  assert.equal(seen.changes[0].attempt, null, "no attempt yet");
  const declinedAt = (await advance(p.payment_id, 1)).version;
  await until(seen.reached(declinedAt), "the decline");
  const { version } = await advance(p.payment_id, 0, true);
  await until(() => seen.version >= version && overSse.version >= version, "the success");
  seen.assertExactlyOnce(version);
  overSse.assertExactlyOnce(version);

  // Each change is its frame field for field, with paymentId and entries beside them.
  for (const change of seen.changes) {
    const frame = recorder.frames.find((f) => f.type === change.type && f.version === change.version);
    assert.ok(frame, `the frame of version ${change.version}`);
    assert.deepEqual(Object.keys(change).sort(), [...Object.keys(frame), "entries", "paymentId"].sort());
    for (const [key, value] of Object.entries(frame)) assert.deepEqual(change[key], value, key);
  }
  // The attempt: the newest one among the frame's entries, as the customer may see it.
  const declined = seen.changes.find((c) => c.version === declinedAt);
  assert.equal(declined.attempt.outcome, "failed");
  assert.equal(declined.attempt.decline_code, "insufficient_funds");
  assert.equal(declined.attempt.advice_next_step, "use_another_card");
  assert.ok(declined.attempt.advice_message, "the customer's words for the decline");
  const entry = declined.entries.findLast((e) => e.data && e.data.attempt);
  assert.equal(declined.attempt.at, entry.at);
  assert.equal(seen.changes.at(-1).attempt.outcome, "succeeded");
  // Server-Sent Events carry the same frames.
  const sseLast = overSse.changes.at(-1);
  assert.deepEqual(sseLast.attempt, seen.changes.at(-1).attempt);
  assert.deepEqual(Object.keys(sseLast).sort(), Object.keys(seen.changes.at(-1)).sort());
  // paylive.d.ts declares exactly what arrives.
  for (const change of [...seen.changes, ...overSse.changes]) {
    assert.deepEqual(Object.keys(change).sort(), declared("Change"));
    if (change.attempt) {
      const extra = Object.keys(change.attempt).filter((k) => !declared("Attempt").includes(k));
      assert.deepEqual(extra, [], "attempt fields paylive.d.ts does not declare");
    }
  }
  live.close();
  sse.close();
});

test("resumes after a dropped connection: no version missed or repeated", async () => {
  const proxy = await startProxy();
  const live = connect({ baseUrl: proxy.url, ...FAST });
  const [p] = await makePayments();
  const seen = new Recorder();
  live.watch(p.payment_id, p.token, seen);
  await until(seen.reached(1), "the snapshot");
  assert.equal(seen.changes[0].type, "snapshot");
  let { version } = await advance(p.payment_id, 2);
  await until(seen.reached(version), "the first updates");
  for (let round = 0; round < 3; round += 1) {
    proxy.cut();
    ({ version } = await advance(p.payment_id, 2)); // while the client is away
  }
  ({ version } = await advance(p.payment_id, 1, true));
  await until(seen.reached(version), "the updates made while disconnected");
  seen.assertExactlyOnce(version);
  assert.equal(seen.changes.at(-1).payment.status, "succeeded");
  assert.ok(live.sockets >= 2, `reconnected (${live.sockets} sockets)`);
  assert.equal(live.transport, "websocket");
  live.close();
  await proxy.close();
});

test("resumes after a server restart (1012), through failed handshakes", async () => {
  const states = [];
  const live = connect({
    baseUrl: SERVICE, ...FAST, fallbackAfter: 1000,
    onConnection: (state, detail) => states.push(`${state} ${detail}`),
  });
  const [p] = await makePayments();
  const seen = new Recorder();
  live.watch(p.payment_id, p.token, seen);
  let { version } = await advance(p.payment_id, 1);
  await until(seen.reached(version), "the first update");
  await restartService(); // its sockets closed with 1012; handshakes fail until it is back
  ({ version } = await advance(p.payment_id, 3, true));
  await until(seen.reached(version), "the updates after the restart");
  seen.assertExactlyOnce(version);
  assert.ok(states.some((s) => s.includes("closed (1012")), states.join("\n"));
  // Node 20 fires only `error` for a refused handshake: the client still retried.
  assert.ok(states.some((s) => s.includes("handshake failed")), states.join("\n"));
  assert.equal(live.transport, "websocket");
  assert.equal(live.state, "live");
  live.close();
});

test("slow reader: closed by the server (4008), resyncs without gaps", async () => {
  const proxy = await startProxy();
  const live = connect({ baseUrl: proxy.url, ...FAST, silenceMs: 8000 });
  const [p] = await makePayments(1, 256 * 1024); // every state is 256 KB
  const seen = new Recorder();
  live.watch(p.payment_id, p.token, seen);
  await until(seen.reached(1), "the snapshot");
  const before = await slowCloses();
  proxy.stall(); // the client reads nothing more: the server's socket fills up
  // Changes keep coming until the server gives up on this client (its send stuck > 1 s).
  await until(async () => {
    await advance(p.payment_id, 1);
    return (await slowCloses()) > before;
  }, "the server closing the slow client", 30000);
  proxy.resume();
  const { version } = await advance(p.payment_id, 1);
  await until(seen.reached(version), "the resync", 30000);
  seen.assertExactlyOnce(version);
  assert.ok(live.sockets >= 2, "reconnected after the slow close");
  live.close();
  await proxy.close();
});

test("falls back to SSE when WebSocket handshakes fail, and resumes there", async () => {
  const proxy = await startProxy();
  proxy.refuseUpgrades = true;
  const counter = countingWebSocket();
  const live = connect({ baseUrl: proxy.url, ...FAST, fallbackAfter: 2, WebSocket: counter.WebSocket });
  const [p, q] = await makePayments(2);
  const seen = new Recorder();
  const other = new Recorder();
  live.watch(p.payment_id, p.token, seen);
  live.watch(q.payment_id, q.token, { ...other, sinceVersion: 1 });
  await until(seen.reached(1), "the snapshot over SSE");
  assert.equal(live.transport, "sse");
  assert.equal(counter.opened, 2, "two WebSocket handshakes, then SSE");
  let { version } = await advance(p.payment_id, 2);
  await until(seen.reached(version), "updates over SSE");
  proxy.cut();
  ({ version } = await advance(p.payment_id, 2, true));
  await until(seen.reached(version), "updates after the stream was cut");
  seen.assertExactlyOnce(version);
  const q2 = await advance(q.payment_id, 1);
  await until(other.reached(q2.version), "the second watch's update");
  other.assertExactlyOnce(q2.version, 1); // sinceVersion 1: nothing at or below it
  assert.equal(counter.opened, 2, "no WebSocket tried once on SSE");
  live.close();
  await proxy.close();

  // No WebSocket in this runtime at all: SSE from the start.
  const bare = connect({ baseUrl: SERVICE, WebSocket: null });
  const alone = new Recorder();
  bare.watch(p.payment_id, p.token, alone);
  await until(alone.reached(version), "SSE without any WebSocket");
  assert.equal(bare.transport, "sse");
  bare.close();
});

test("a server that is down does not push the client onto SSE", async () => {
  const proxy = await startProxy();
  await proxy.close(); // nothing listens there now
  const live = connect({ baseUrl: proxy.url, backoffMinMs: 20, backoffMaxMs: 40, fallbackAfter: 2 });
  const [p] = await makePayments();
  live.watch(p.payment_id, p.token, new Recorder());
  await until(() => live.sockets >= 5, "WebSocket retries after the SSE attempt failed too");
  assert.equal(live.transport, "websocket");
  live.close();
});

test("many watches share one WebSocket", async () => {
  const counter = countingWebSocket();
  const live = connect({ baseUrl: SERVICE, ...FAST, WebSocket: counter.WebSocket });
  const payments = await makePayments(12);
  const recorders = payments.map((p) => {
    const seen = new Recorder();
    seen.watch = live.watch(p.payment_id, p.token, seen);
    return seen;
  });
  // The same payment twice: each watch gets its own copy.
  const twin = new Recorder();
  live.watch(payments[0].payment_id, payments[0].token, twin);
  await until(() => recorders.every((r) => r.version >= 1) && twin.version >= 1, "12 snapshots");
  const finals = await Promise.all(payments.map((p) => advance(p.payment_id, 2)));
  for (const [i, seen] of recorders.entries()) {
    await until(seen.reached(finals[i].version), `payment ${i}`);
    seen.assertExactlyOnce(finals[i].version);
  }
  await until(twin.reached(finals[0].version), "the twin watch");
  twin.assertExactlyOnce(finals[0].version);
  // Unwatched: hears nothing more; its twin still does.
  recorders[0].watch.unwatch();
  assert.equal(recorders[0].watch.active, false);
  const later = await advance(payments[0].payment_id, 1);
  await until(twin.reached(later.version), "the twin after the unwatch");
  const last = await advance(payments[1].payment_id, 1);
  await until(recorders[1].reached(last.version), "the others after the unwatch");
  assert.equal(recorders[0].version, finals[0].version);
  assert.equal(counter.opened, 1);
  assert.equal(live.sockets, 1);
  live.close();
});

test("bad token ends only its own watch", async () => {
  const live = connect({ baseUrl: SERVICE, ...FAST });
  const [p, q] = await makePayments(2);
  const good = new Recorder();
  const bad = new Recorder();
  live.watch(p.payment_id, p.token, good);
  await until(good.reached(1), "the good snapshot");
  live.watch(q.payment_id, p.token, bad); // p's token for q: refused (4001)
  await until(() => bad.errors.length === 1, "the refusal");
  assert.equal(bad.errors[0].code, "token_wrong_payment");
  assert.equal(bad.changes.length, 0);
  const { version } = await advance(p.payment_id, 2);
  await until(good.reached(version), "the good watch going on");
  good.assertExactlyOnce(version);
  assert.equal(live.state, "live");
  live.close();
});

test("pauses while the tab is hidden and catches up when shown", async () => {
  const doc = new EventTarget();
  doc.visibilityState = "visible";
  const show = (state) => {
    doc.visibilityState = state;
    doc.dispatchEvent(new Event("visibilitychange"));
  };
  const live = connect({ baseUrl: SERVICE, ...FAST, pauseWhenHidden: true, pauseAfterMs: 0, document: doc });
  const [p] = await makePayments();
  const seen = new Recorder();
  live.watch(p.payment_id, p.token, seen);
  await until(seen.reached(1), "the snapshot");
  show("hidden");
  await until(() => live.state === "paused", "the pause");
  const { version } = await advance(p.payment_id, 3);
  await sleep(300);
  assert.equal(seen.version, 1, "nothing delivered while paused");
  show("visible");
  await until(seen.reached(version), "the catch-up");
  seen.assertExactlyOnce(version);
  assert.equal(live.sockets, 2);
  live.close();

  // Opened in a background tab: nothing connects until it is shown.
  const background = new EventTarget();
  background.visibilityState = "hidden";
  const later = connect({ baseUrl: SERVICE, ...FAST, pauseWhenHidden: true, document: background });
  const caught = new Recorder();
  later.watch(p.payment_id, p.token, caught);
  await sleep(200);
  assert.equal(later.sockets, 0);
  background.visibilityState = "visible";
  background.dispatchEvent(new Event("visibilitychange"));
  await until(caught.reached(version), "the snapshot once shown");
  caught.assertExactlyOnce(version);
  later.close();
});

test("unwatch and close: cleans up every timer and socket", async () => {
  await sleep(100);
  const before = resources();
  const live = connect({ baseUrl: SERVICE, ...FAST, silenceMs: 30000 });
  const payments = await makePayments(3);
  const seen = payments.map(() => new Recorder());
  const watches = payments.map((p, i) => live.watch(p.payment_id, p.token, seen[i]));
  await until(() => seen.every((r) => r.version >= 1), "the snapshots");
  watches[0].unwatch();
  live.close();
  assert.equal(live.state, "closed");
  assert.ok(watches.every((w) => !w.active));
  assert.throws(() => live.watch(payments[0].payment_id, payments[0].token), /closed/);
  await until(() => JSON.stringify(resources()) === JSON.stringify(before),
    `no timer or socket left: ${JSON.stringify(resources())} vs ${JSON.stringify(before)}`, 5000);
  const { version } = await advance(payments[1].payment_id, 1);
  await sleep(200);
  assert.ok(seen[1].version < version, "nothing delivered after close");
});
