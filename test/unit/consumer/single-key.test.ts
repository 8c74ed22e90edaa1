/**
 * Single-key mode with a real tls.Server: the key is switched by setTicketKeys at the
 * activation instant of the ring, not when the ring arrives.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";

import { renderKey, serializeRing, type Key, type Ring } from "../../../src/core/index.ts";
import type { HandshakeEvent } from "../../../src/consumer/events.ts";
import { shareTicketKeys, type SingleKeyConsumer } from "../../../src/consumer/single-key.ts";
import { manualSource } from "../../../src/consumer/sources/manual.ts";
import {
  assertNoKeyMaterial,
  capturingLogger,
  eventually,
  hour,
  portOf,
  secretsOf,
  testCertificate,
  type TestCredentials,
  tlsClient,
  type TlsVersion,
} from "./support.ts";

let credentials: TestCredentials;
before(async () => {
  credentials = await testCertificate();
});

function key(fill: number, activeFrom: number, activeUntil: number): Key {
  return {
    name: Buffer.alloc(16, fill),
    seed: Buffer.alloc(32, 0x80 + fill),
    createdAt: activeFrom,
    activeFrom,
    activeUntil,
    expiresAt: activeUntil + hour,
  };
}

/** A ring whose pending key B activates `inMs` from now. */
function ringSwitchingIn(inMs: number): { ring: Ring; a: Key; b: Key; at: number } {
  const at = Date.now() + inMs;
  const a = key(1, at - hour, at);
  const b = key(2, at, at + hour);
  return { ring: { keys: [a, b] }, a, b, at };
}

interface Server {
  server: tls.Server;
  port: number;
  calls: { at: number; name: string }[];
}

const servers: tls.Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function startServer(): Promise<Server> {
  const server = tls.createServer({ key: credentials.key, cert: credentials.cert }, (socket) => {
    socket.end("ok");
  });
  const calls: { at: number; name: string }[] = [];
  const original = server.setTicketKeys.bind(server);
  server.setTicketKeys = (keys: Buffer) => {
    calls.push({ at: Date.now(), name: keys.subarray(0, 16).toString("hex") });
    original(keys);
  };
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return { server, port: portOf(server), calls };
}

for (const version of ["TLSv1.2", "TLSv1.3"] as TlsVersion[]) {
  describe(`single-key mode, ${version}`, () => {
    it("calls setTicketKeys at the activation instant, not on receipt", async () => {
      const { server, port, calls } = await startServer();
      const { ring, a, b, at } = ringSwitchingIn(400);
      const { log, lines } = capturingLogger();
      const source = manualSource(ring, { log });
      const consumer: SingleKeyConsumer = await shareTicketKeys(server, { source, log });
      const handshakes: HandshakeEvent[] = [];
      consumer.on("handshake", (event) => handshakes.push(event));
      try {
        assert.deepEqual(
          calls.map((c) => c.name),
          [a.name.toString("hex")],
          "the active key A is set at once",
        );
        assert.deepEqual(server.getTicketKeys(), renderKey(a, "node", 48));

        const first = await tlsClient(port, { version, ca: credentials.ca });
        assert.equal(first.ticketKeyName, a.name.toString("hex"));

        // A new ring with one more pending key arrives before the instant: no switch on receipt.
        source.push({ keys: [a, b, key(3, at + hour, at + 2 * hour)] });
        assert.equal(calls.length, 1);

        await eventually(() => calls.length === 2, 3000, "the switch to B");
        const switched = calls[1]!;
        assert.equal(switched.name, b.name.toString("hex"));
        assert.ok(switched.at >= at, `switched ${at - switched.at} ms before the instant`);
        assert.ok(switched.at - at < 1000, `switched ${switched.at - at} ms after the instant`);
        assert.equal(consumer.activeKey, b.name.subarray(0, 4).toString("hex"));

        const fresh = await tlsClient(port, { version, ca: credentials.ca });
        assert.equal(fresh.ticketKeyName, b.name.toString("hex"), "new sessions are issued under B");
        // Node holds one key: A's tickets are gone (the router keeps them, see router.test.ts).
        const old = await tlsClient(port, { version, ca: credentials.ca, session: first.session });
        assert.equal(old.resumed, false);
        const again = await tlsClient(port, { version, ca: credentials.ca, session: fresh.session });
        assert.equal(again.resumed, true);

        assert.deepEqual(
          handshakes.map((h) => [h.resumed, h.keyId, h.keyState]),
          [
            [false, "01010101", "active"],
            [false, "02020202", "active"],
            [false, "02020202", "active"],
            [true, "02020202", "active"],
          ],
        );
        const stats = consumer.stats();
        assert.equal(stats.resumed, 1);
        assert.equal(stats.full, 3);
        const metrics = await consumer.metrics.registry.metrics();
        assert.match(metrics, /ticketkeys_consumer_key_activations_total 1/);
        assert.match(metrics, /ticketkeys_consumer_active_key_info\{key_id="02020202"\} 1/);
        assertNoKeyMaterial(metrics + lines.join("\n"), secretsOf(ring));
      } finally {
        await consumer.stop();
      }
      assert.equal(source.listenerCount("ring"), 0, "stop() detaches from the source");
    });
  });
}

describe("shareTicketKeys", () => {
  it("creates, and stops, a directory source from its options", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sidecar-single-"));
    try {
      const { ring, a } = ringSwitchingIn(hour);
      await writeFile(join(dir, "ring.json"), serializeRing(ring));
      const { server } = await startServer();
      const consumer = await shareTicketKeys(server, { directory: dir, log: capturingLogger().log });
      assert.deepEqual(server.getTicketKeys(), renderKey(a, "node", 48));
      await consumer.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects when the source cannot start", async () => {
    const { server } = await startServer();
    await assert.rejects(
      shareTicketKeys(server, {
        directory: join(tmpdir(), "no-such-dir-for-keys"),
        log: capturingLogger().log,
      }),
      /is not readable/,
    );
  });
});
