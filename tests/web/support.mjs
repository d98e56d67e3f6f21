// Test support for paylive.js under Node: the Python control app, a TCP proxy a test can
// cut, stall or make refuse WebSocket upgrades, and a recorder of what a watch delivered.
import assert from "node:assert/strict";
import net from "node:net";

export const SERVICE = process.env.PAYLIVE_URL;
export const CONTROL = process.env.CONTROL_URL;

async function post(path, body) {
  const response = await fetch(CONTROL + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

// [{payment_id, token}]; `padding`: bytes of metadata in every state.
export const makePayments = (count = 1, padding = 0) => post("/payments", { count, padding });
// `failures` declined attempts (a version each), then success if asked: {version, status}.
export const advance = (paymentId, failures = 1, succeed = false) =>
  post("/advance", { payment_id: paymentId, failures, succeed });
export const restartService = () => post("/restart");

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(predicate, what, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// What onChange received for one watch, and the checks every scenario makes on it.
export class Recorder {
  constructor() {
    this.changes = [];
    this.errors = [];
    this.onChange = (change) => this.changes.push(change);
    this.onError = (error) => this.errors.push(error);
  }

  get version() {
    return this.changes.length ? this.changes[this.changes.length - 1].version : 0;
  }

  reached(version) {
    return () => this.version >= version;
  }

  // Versions only grow, each state once; the timeline entries cover after..upTo exactly once.
  assertExactlyOnce(upTo, after = 0) {
    const versions = this.changes.map((c) => c.version);
    for (let i = 1; i < versions.length; i += 1) {
      assert.ok(versions[i] > versions[i - 1], `versions not increasing: ${versions}`);
    }
    assert.equal(this.version, upTo);
    const entries = this.changes.flatMap((c) => c.entries.map((e) => e.version));
    const expected = Array.from({ length: upTo - after }, (_, i) => after + i + 1);
    assert.deepEqual(entries, expected);
    for (const change of this.changes) assert.equal(change.payment.version, change.version);
  }
}

// A TCP proxy in front of the service. cut(): drop every connection (a network blip);
// stall(): stop reading from the service (a reader that does not keep up); refuseUpgrades:
// answer WebSocket handshakes 403 (a proxy that does not pass WebSockets).
export async function startProxy(target = SERVICE) {
  const { hostname, port } = new URL(target);
  const pairs = new Set();
  const proxy = {
    refuseUpgrades: false,
    connections: 0,
    stalled: false,
    cut() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    // unpipe first: a pipe resumes its source whenever the destination drains.
    stall() {
      proxy.stalled = true;
      for (const [client, upstream] of pairs) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    resume() {
      proxy.stalled = false;
      for (const [client, upstream] of pairs) upstream.pipe(client);
    },
  };
  const server = net.createServer((client) => {
    proxy.connections += 1;
    client.once("data", (first) => {
      if (proxy.refuseUpgrades && /^upgrade:\s*websocket/im.test(first.toString("latin1"))) {
        client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      const upstream = net.connect(Number(port), hostname);
      const pair = [client, upstream];
      pairs.add(pair);
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
      if (proxy.stalled) {
        upstream.unpipe(client);
        upstream.pause();
      }
      const drop = () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    client.on("error", () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  proxy.close = () => {
    proxy.cut();
    return new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}

// The service's own count of clients it closed for being slow.
export async function slowCloses() {
  const text = await (await fetch(`${SERVICE}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("paylive_ws_slow_closes"));
  return line ? Number(line.split(" ").pop()) : 0;
}

// Timers and sockets alive in this process, by kind (to show close() leaves none).
export function resources() {
  const counts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] || 0) + 1;
  return counts;
}
