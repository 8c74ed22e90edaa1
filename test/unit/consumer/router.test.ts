/**
 * The multi-key router with real TLS: node:tls clients resume through it on tickets of a key
 * that has since retired, fresh clients land on the active key's server, and no input (garbage,
 * HTTP, a ClientHello cut short, one split over many TCP reads) breaks it.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";

import { keyId, type Key, type Ring } from "../../../src/core/index.ts";
import type { HandshakeEvent, RingEvent } from "../../../src/consumer/events.ts";
import { createRouter, type TicketKeyRouter } from "../../../src/consumer/router.ts";
import { manualSource } from "../../../src/consumer/sources/manual.ts";
import type { KeyServerFactory } from "../../../src/consumer/key-servers.ts";
import {
  assertNoKeyMaterial,
  capturingLogger,
  eventually,
  FakeClock,
  hour,
  keyAt,
  minute,
  portOf,
  ringHistory,
  secretsOf,
  t0,
  testCertificate,
  type TestCredentials,
  tlsClient,
  withTimeout,
  type TlsVersion,
} from "./support.ts";

const rings = ringHistory(2);
const secrets = secretsOf(...rings);
const hex = (key: Key): string => key.name.toString("hex");
let credentials: TestCredentials;

before(async () => {
  credentials = await testCertificate();
});

const tlsFactory: KeyServerFactory = (ticketKeys) =>
  tls.createServer({ key: credentials.key, cert: credentials.cert, ticketKeys }, (socket) => {
    socket.end("ok");
  });

interface Rig {
  router: TicketKeyRouter;
  clock: FakeClock;
  source: ReturnType<typeof manualSource>;
  port: number;
  lines: string[];
}

const rigs: Rig[] = [];
after(async () => {
  const open = rigs.filter((rig) => rig.router.listening);
  const closed = open.map((rig) => once(rig.router, "close"));
  for (const rig of open) rig.router.close();
  await Promise.all(closed);
});

async function startRouter(
  options: { createServer?: KeyServerFactory; helloTimeoutMs?: number; ring?: Ring } = {},
): Promise<Rig> {
  const clock = new FakeClock(t0 + 5 * minute);
  const { log, lines } = capturingLogger();
  const source = manualSource(options.ring ?? rings[0], { clock, log });
  const router = createRouter({
    source,
    clock,
    log,
    createServer: options.createServer ?? tlsFactory,
    ...(options.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: options.helloTimeoutMs }),
  });
  await router.ready;
  router.listen(0, "127.0.0.1");
  await once(router, "listening");
  const rig = { router, clock, source, port: portOf(router), lines };
  rigs.push(rig);
  return rig;
}

/**
 * A TCP relay that forwards what the client sends in `chunk`-byte pieces, one per event-loop
 * turn: the router sees the ClientHello over many reads.
 */
async function choppingRelay(target: number, chunk: number): Promise<{ port: number; close(): void }> {
  const relay = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    upstream.setNoDelay(true);
    let queue = Promise.resolve();
    client.on("data", (data: Buffer) => {
      client.pause();
      queue = queue.then(async () => {
        for (let i = 0; i < data.length; i += chunk) {
          upstream.write(data.subarray(i, i + chunk));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        client.resume();
      });
    });
    client.on("end", () => void queue.then(() => upstream.end()));
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  relay.listen(0, "127.0.0.1");
  await once(relay, "listening");
  return { port: portOf(relay), close: () => relay.close() };
}

/** Resolves when the socket closes, whatever the error (the router may reset it). */
function closeOf(socket: net.Socket): Promise<void> {
  socket.on("error", () => undefined);
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/** A raw connection that sends `bytes` and resolves when the router side closes it. */
async function rawConnection(port: number, bytes: Buffer | string | undefined): Promise<number> {
  const started = Date.now();
  const socket = net.connect(port, "127.0.0.1");
  socket.on("data", () => undefined);
  const closed = closeOf(socket);
  await once(socket, "connect");
  if (bytes !== undefined) socket.write(bytes);
  await withTimeout(closed, 5000);
  return Date.now() - started;
}

/** Sends `bytes` one every `everyMs`; resolves with the time until the router closes it. */
async function trickled(port: number, bytes: Buffer, everyMs: number): Promise<number> {
  const started = Date.now();
  const socket = net.connect(port, "127.0.0.1");
  const closed = closeOf(socket);
  await once(socket, "connect");
  let sent = 0;
  const timer = setInterval(() => {
    if (!socket.destroyed && sent < bytes.length) socket.write(bytes.subarray(sent, ++sent));
  }, everyMs);
  try {
    await withTimeout(closed, 5000);
  } finally {
    clearInterval(timer);
  }
  return Date.now() - started;
}

function connections(router: TicketKeyRouter): Promise<number> {
  return new Promise((resolve, reject) => {
    router.getConnections((error, count) => (error ? reject(error) : resolve(count)));
  });
}

async function outcomes(router: TicketKeyRouter): Promise<Record<string, number>> {
  const metric = await router.metrics.routerConnections.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels["outcome"]), v.value]));
}

for (const version of ["TLSv1.2", "TLSv1.3"] as TlsVersion[]) {
  describe(`router, ${version}`, () => {
    it("resumes a ticket of a retired key on that key's server; fresh clients get the active key", async () => {
      const { router, clock, source, port, lines } = await startRouter();
      const handshakes: HandshakeEvent[] = [];
      const ringEvents: RingEvent[] = [];
      router.on("handshake", (event) => handshakes.push(event));
      router.on("ring", (event) => ringEvents.push(event));
      const a = keyAt(rings[0]!, clock.now());
      const b = keyAt(rings[1]!, t0 + hour + 1000);

      const first = await tlsClient(port, { version, ca: credentials.ca });
      assert.equal(first.protocol, version);
      assert.equal(first.resumed, false);
      assert.equal(first.reply, "ok");
      assert.equal(first.ticketKeyName, hex(a), "the ticket is issued under the active key A");

      // The rotation: at A's activeUntil (by the ring's timestamps) B takes over, and the
      // controller's next ring (a new pending key) arrives a moment later.
      clock.advanceTo(a.activeUntil);
      assert.equal(router.stats().activeKey, keyId(b), "switched at the instant, before any update");
      source.push(rings[1]!);
      assert.deepEqual(
        router.keyServers().map((s) => [s.keyId, s.state]),
        [
          [keyId(b), "active"],
          [keyId(rings[1]!.keys.at(-1)!), "pending"],
          [keyId(a), "retired"],
        ],
      );
      assert.deepEqual(
        ringEvents.map((e) => [e.cause, e.activeKey]),
        [
          ["schedule", keyId(b)],
          ["update", keyId(b)],
        ],
      );

      const resumed = await tlsClient(port, { version, ca: credentials.ca, session: first.session });
      assert.equal(resumed.resumed, true, "A's server still decrypts A's ticket");
      assert.deepEqual(handshakes.at(-1), { resumed: true, keyId: keyId(a), keyState: "retired" });

      // The same over a relay that feeds the ClientHello a few bytes per TCP read.
      const relay = await choppingRelay(port, 7);
      try {
        const chopped = await tlsClient(relay.port, {
          version,
          ca: credentials.ca,
          session: first.session,
        });
        assert.equal(chopped.resumed, true, "a ClientHello split over many reads is routed by its ticket");
      } finally {
        relay.close();
      }

      const fresh = await tlsClient(port, { version, ca: credentials.ca });
      assert.equal(fresh.resumed, false);
      assert.equal(fresh.ticketKeyName, hex(b), "a fresh client lands on the active key's server");
      assert.deepEqual(handshakes.at(-1), { resumed: false, keyId: keyId(b), keyState: "active" });

      // A expires with no update: its server is closed, and its tickets go to the active key.
      const retired = router.keyServers().find((s) => s.keyId === keyId(a))!.server;
      const closed = once(retired, "close");
      clock.advanceTo(a.expiresAt);
      await withTimeout(closed);
      assert.ok(!router.keyServers().some((s) => s.keyId === keyId(a)));
      const late = await tlsClient(port, { version, ca: credentials.ca, session: first.session });
      assert.equal(late.resumed, false);
      assert.equal(late.ticketKeyName, hex(b));

      const stats = router.stats();
      assert.equal(stats.resumed, 2);
      assert.equal(stats.full, 3);
      assert.deepEqual(stats.byKeyState.retired, { resumed: 2, full: 0 });
      const counts = await outcomes(router);
      assert.equal(counts["ticket"], 2);
      assert.equal(counts["unknown-key"], 1);
      assert.equal(counts["no-ticket"], 2);
      const metrics = await router.metrics.registry.metrics();
      assert.match(metrics, /ticketkeys_consumer_handshakes_total\{resumed="true",key_state="retired"\} 2/);
      assert.match(metrics, new RegExp(`ticketkeys_consumer_active_key_info\\{key_id="${keyId(b)}"\\} 1`));
      assertNoKeyMaterial(metrics + lines.join("\n") + JSON.stringify([handshakes, ringEvents]), secrets);
    });
  });
}

describe("router, hostile input", () => {
  it("garbage, an HTTP request, an empty connection and a half-sent ClientHello never break it", async () => {
    const { router, port } = await startRouter({ helloTimeoutMs: 300 });
    const errors: unknown[] = [];
    router.on("error", (error) => errors.push(error));
    const hello = Buffer.from(
      readFileSync(
        join(import.meta.dirname, "../../fixtures/client-hello/node-tls13-first.hex"),
        "utf8",
      ).replace(/\s/g, ""),
      "hex",
    );
    const random = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 73 + 11) & 0xff));
    await Promise.all([
      rawConnection(port, random),
      rawConnection(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
      rawConnection(port, Buffer.concat([Buffer.from([22, 3, 1, 0, 40]), random.subarray(0, 40)])), // a handshake record of junk
      rawConnection(
        port,
        Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0, 1, 0, 0x3f]), Buffer.alloc(20_000)]),
      ), // > 16 KiB
      rawConnection(port, hello.subarray(0, hello.length - 1)), // a ClientHello one byte short
      rawConnection(port, undefined),
    ]);
    const cut = await rawConnection(port, hello.subarray(0, 60));
    assert.ok(cut >= 250, `a half-sent ClientHello is closed at the timeout (${cut} ms)`);
    const trickle = await trickled(port, hello, 50);
    assert.ok(trickle < 2000, `a trickling client does not extend its time (${trickle} ms)`);
    const counts = await outcomes(router);
    assert.equal(counts["not-tls"], 2);
    assert.equal(counts["malformed"], 2);
    assert.equal(counts["timeout"], 4, "the one-byte-short, empty, cut and trickled hellos");
    assert.deepEqual(errors, []);
    const ok = await tlsClient(port, { version: "TLSv1.3", ca: credentials.ca });
    assert.equal(ok.reply, "ok", "the router still serves");
    let open = -1;
    await eventually(() => {
      router.getConnections((_, n) => (open = n));
      return open === 0;
    });
  });
});

describe("router, servers", () => {
  it("works with https.createServer, and closes idle keep-alive connections on close()", async () => {
    const { router, port } = await startRouter({
      createServer: (ticketKeys) =>
        https.createServer({ key: credentials.key, cert: credentials.cert, ticketKeys }, (_req, res) => {
          res.end("https ok");
        }),
    });
    const agent = new https.Agent({ keepAlive: true });
    const body = await new Promise<string>((resolve, reject) => {
      const request = https.get(
        { host: "127.0.0.1", port, servername: "localhost", ca: credentials.ca, agent, path: "/" },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
          response.on("end", () => resolve(text));
        },
      );
      request.on("error", reject);
    });
    assert.equal(body, "https ok");
    assert.equal(router.stats().full, 1);
    assert.equal(await connections(router), 1, "the agent keeps the connection open");
    router.close();
    await withTimeout(once(router, "close"), 2000);
    agent.destroy();
  });

  it("works with http2.createSecureServer", async () => {
    const { router, port } = await startRouter({
      createServer: (ticketKeys) =>
        http2.createSecureServer(
          { key: credentials.key, cert: credentials.cert, ticketKeys },
          (_req, res) => {
            res.end("h2 ok");
          },
        ),
    });
    const session = http2.connect(`https://localhost:${port}`, { ca: credentials.ca, host: "127.0.0.1" });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":path": "/" });
        let text = "";
        stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        stream.on("end", () => resolve(text));
        stream.on("error", reject);
        stream.end();
      });
      assert.equal(body, "h2 ok");
    } finally {
      session.close();
    }
    router.close();
    await withTimeout(once(router, "close"));
  });

  it("close() stops accepting, closes every key's server and waits for open connections", async () => {
    const { router, port } = await startRouter({
      createServer: (ticketKeys) =>
        tls.createServer({ key: credentials.key, cert: credentials.cert, ticketKeys }, (socket) => {
          socket.write("hi");
          socket.on("data", (data: Buffer) => socket.write(data)); // an echo
        }),
    });
    const client = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca: credentials.ca });
    client.on("error", () => undefined);
    await once(client, "data");
    assert.equal(await connections(router), 1);
    const servers = router.keyServers().map((s) => s.server);
    assert.equal(servers.length, 3);
    const serversClosed = Promise.all(servers.map((server) => once(server, "close")));
    let closed = false;
    router.close(() => (closed = true));
    await withTimeout(serversClosed);
    assert.equal(router.listening, false);
    assert.deepEqual(router.keyServers(), []);
    await assert.rejects(rawConnection(port, "x"), /ECONNREFUSED/);
    // The open connection still works end to end after close(), and close() waits for it.
    const echoed = once(client, "data") as Promise<[Buffer]>;
    client.write("still there?");
    assert.equal((await withTimeout(echoed))[0].toString(), "still there?");
    assert.equal(closed, false, "the open connection is left to finish");
    client.end();
    await eventually(() => closed, 3000, "the close callback");
  });

  it("serves a rejected update's previous ring, and reports the rejection", async () => {
    const { router, source } = await startRouter();
    const rejections: string[] = [];
    router.on("rejected", ({ reason }) => rejections.push(reason));
    const before = router.keyServers().map((s) => s.keyId);
    assert.equal(source.push('{"version":1,"keys":['), false);
    assert.match(rejections[0] ?? "", /not valid UTF-8 JSON/);
    assert.deepEqual(
      router.keyServers().map((s) => s.keyId),
      before,
    );
    assert.equal(router.stats().rejectedUpdates, 1);
    assert.match(await router.metrics.registry.metrics(), /ticketkeys_consumer_rejected_updates_total 1/);
  });
});
