/**
 * The process lifecycle shared by the controller and the sidecar, with a stand-in for `process`:
 * the probe servers, SIGTERM / SIGINT, one graceful shutdown and its exit code.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { Registry } from "prom-client";

import { createLogger } from "../../../src/observability/log.ts";
import { describeAddress, ProcessLifecycle, type ProcessHooks } from "../../../src/process/lifecycle.ts";

/** Every lifecycle a test made: shut down after it, even when an assertion failed first. */
const made: ProcessLifecycle[] = [];
afterEach(async () => {
  for (const lifecycle of made.splice(0)) await lifecycle.shutdown(0);
});

function harness(stop: () => Promise<void> = () => Promise.resolve()) {
  const signals = new EventEmitter();
  const exits: number[] = [];
  const hooks: ProcessHooks = {
    once: (signal, listener) => signals.once(signal, listener),
    exit: (code) => void exits.push(code),
  };
  const logged: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
      done();
    },
  });
  const log = createLogger({ name: "test", level: "info", destination });
  let stops = 0;
  const lifecycle = new ProcessLifecycle({
    log,
    shutdownMessage: "shutting down for the test",
    stop: () => {
      stops++;
      return stop();
    },
    process: hooks,
  });
  made.push(lifecycle);
  return { lifecycle, signals, exits, logged, stops: () => stops };
}

const status = async (address: string, path: string): Promise<number> =>
  (await fetch(`http://${address}${path}`)).status;

/** Resolves once every listed address refuses connections. */
async function closed(addresses: string[]): Promise<boolean> {
  for (const address of addresses) {
    const refused = await fetch(`http://${address}/healthz`).then(
      () => false,
      () => true,
    );
    if (!refused) return false;
  }
  return true;
}

/** Waits (at most 5 s) for the lifecycle to call exit. */
async function exited(exits: number[]): Promise<void> {
  for (let i = 0; exits.length === 0; i++) {
    assert.ok(i < 500, "exit was not called");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const registry = new Registry();
const notReady = { healthy: () => true, ready: () => false };

describe("describeAddress", () => {
  it("host:port of a socket, the path of a pipe", () => {
    assert.equal(describeAddress({ address: "127.0.0.1", family: "IPv4", port: 8081 }), "127.0.0.1:8081");
    assert.equal(describeAddress({ address: "::", family: "IPv6", port: 9402 }), ":::9402");
    assert.equal(describeAddress("/run/probes.sock"), "/run/probes.sock");
    assert.equal(describeAddress(null), "not listening");
  });
});

describe("ProcessLifecycle", { timeout: 10_000 }, () => {
  it("serves the probes on both addresses, each with its own answers; SIGTERM stops, closes, exits 0", async () => {
    const h = harness();
    const [health, metrics] = await h.lifecycle.listen({
      healthAddress: "127.0.0.1:0",
      metricsAddress: "0.0.0.0:0",
      registry,
      probes: notReady,
      metricsProbes: { healthy: () => true, ready: () => true },
    });
    assert.ok(health !== undefined && metrics !== undefined);
    assert.match(health, /^127\.0\.0\.1:\d+$/);
    const metricsPort = metrics.split(":").at(-1)!;
    const metricsLocal = `127.0.0.1:${metricsPort}`;
    assert.equal(await status(health, "/healthz"), 200);
    assert.equal(await status(health, "/readyz"), 503);
    assert.equal(await status(metricsLocal, "/readyz"), 200);
    assert.equal(await status(metricsLocal, "/metrics"), 200);

    h.signals.emit("SIGTERM");
    await exited(h.exits);
    assert.deepEqual(h.exits, [0]);
    assert.equal(h.stops(), 1);
    assert.deepEqual(h.logged, ["shutting down for the test"]);
    assert.ok(await closed([health, metricsLocal]), "both servers are closed");
  });

  it("one server when both addresses are the same", async () => {
    const h = harness();
    const listening = await h.lifecycle.listen({
      healthAddress: "127.0.0.1:0",
      metricsAddress: "127.0.0.1:0",
      registry,
      probes: notReady,
      metricsProbes: { healthy: () => true, ready: () => true },
    });
    assert.equal(listening.length, 1);
    assert.equal(await status(listening[0]!, "/readyz"), 503, "the health address keeps its own probes");
    await h.lifecycle.shutdown(0);
    assert.ok(await closed(listening));
  });

  it("the work is stopped once; a shutdown during the shutdown exits at once with its own code", async () => {
    let release: () => void = () => undefined;
    const h = harness(() => new Promise<void>((r) => (release = r)));
    const [health] = await h.lifecycle.listen({
      healthAddress: "127.0.0.1:0",
      metricsAddress: "127.0.0.1:0",
      registry,
      probes: notReady,
    });
    const first = h.lifecycle.shutdown(1);
    await h.lifecycle.shutdown(2);
    h.signals.emit("SIGINT");
    assert.deepEqual(h.exits, [2, 0], "the later calls exit without waiting");
    assert.equal(h.stops(), 1);
    release();
    await first;
    assert.deepEqual(h.exits, [2, 0, 1]);
    assert.ok(await closed([health!]));
  });

  it("a failing stop still closes the servers and exits with the code asked for", async () => {
    const h = harness(() => Promise.reject(new Error("stop failed")));
    const [health] = await h.lifecycle.listen({
      healthAddress: "127.0.0.1:0",
      metricsAddress: "127.0.0.1:0",
      registry,
      probes: notReady,
    });
    h.signals.emit("SIGINT");
    await exited(h.exits);
    assert.deepEqual(h.exits, [0]);
    assert.ok(await closed([health!]));
  });

  it("an address that cannot be listened on is an error", async () => {
    const h = harness();
    const [health] = await h.lifecycle.listen({
      healthAddress: "127.0.0.1:0",
      metricsAddress: "127.0.0.1:0",
      registry,
      probes: notReady,
    });
    const other = harness();
    await assert.rejects(
      other.lifecycle.listen({ healthAddress: health!, metricsAddress: health!, registry, probes: notReady }),
      { code: "EADDRINUSE" },
    );
    await h.lifecycle.shutdown(0);
    await other.lifecycle.shutdown(0);
  });
});
