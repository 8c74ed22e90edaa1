/**
 * The updater: renders, writes (atomically), tells the server, runs --exec; the newest request
 * wins; failures are retried with backoff, counted by kind, logged in one line without key
 * material; a server not started yet is waited for during the startup grace.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { activeKey, keyId, type Ring } from "../../../src/core/index.ts";
import { SidecarFailure } from "../../../src/sidecar/failure.ts";
import { sidecarMetrics } from "../../../src/sidecar/metrics.ts";
import type { NotifyResult, Rendering, ServerAdapter } from "../../../src/sidecar/servers/server.ts";
import { Updater } from "../../../src/sidecar/updater.ts";
import { metricValue } from "../../../harness/sidecar/process.ts";
import {
  assertNoKeyMaterial,
  capturingLogger,
  eventually,
  FakeClock,
  ringHistory,
  secretsOf,
  t0,
} from "../consumer/support.ts";

/** A server whose notifications fail as told, and that records what it was told. */
class FakeServer implements ServerAdapter {
  readonly kind = "files";
  readonly failures: SidecarFailure[] = [];
  readonly told: string[] = [];
  gate: Promise<void> | undefined;

  render(ring: Ring, now: number): Rendering {
    const active = activeKey(ring, now) ?? ring.keys[0]!;
    return { files: new Map([["active.id", Buffer.from(keyId(active))]]) };
  }

  async notify(rendering: Rendering): Promise<NotifyResult> {
    await this.gate;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    this.told.push(rendering.files.get("active.id")!.toString());
    return { action: "told", changed: true };
  }
}

async function setup(
  options: { exec?: { command: string; timeoutMs: number }; startupGraceMs?: number } = {},
) {
  const out = await mkdtemp(join(tmpdir(), "tko-updater-"));
  const clock = new FakeClock(t0 + 1000);
  const server = new FakeServer();
  const metrics = sidecarMetrics();
  const { log, lines } = capturingLogger();
  const updater = new Updater({
    server,
    out,
    mode: 0o600,
    metrics,
    log,
    clock,
    initialBackoffMs: 1000,
    maxBackoffMs: 8000,
    startupGraceMs: options.startupGraceMs ?? 0,
    ...(options.exec ? { exec: options.exec } : {}),
  });
  const metric = async (name: string, labels?: Record<string, string>): Promise<number> =>
    metricValue(await metrics.registry.metrics(), name, labels);
  const logs = (): { msg: string; kind?: string; err?: string; level: number }[] =>
    lines.map((l) => JSON.parse(l) as { msg: string; kind?: string; err?: string; level: number });
  return { out, clock, server, updater, metric, logs, lines };
}

const [ring, next] = ringHistory(1) as [Ring, Ring];

describe("the updater", () => {
  it("writes the rendering (mode 0600), tells the server, counts the update", async () => {
    const { out, server, updater, metric, logs } = await setup();
    updater.request(ring);
    await eventually(() => server.told.length === 1);
    assert.equal(await readFile(join(out, "active.id"), "utf8"), keyId(activeKey(ring, t0 + 1000)!));
    assert.equal((await stat(join(out, "active.id"))).mode & 0o777, 0o600);
    assert.ok(updater.written && updater.inSync);
    assert.equal(await metric("ticketkeys_sidecar_updates_total", { server: "files" }), 1);
    assert.equal(await metric("ticketkeys_sidecar_in_sync"), 1);
    assert.equal(
      await metric("ticketkeys_sidecar_active_key_info", { key_id: keyId(activeKey(ring, t0 + 1000)!) }),
      1,
    );
    assert.equal(await metric("ticketkeys_sidecar_keys", { state: "pending" }), 1);
    assert.ok(logs().some((l) => l.msg === "ticket keys applied"));
  });

  it("a failure: one warn line naming the kind, a metric, the files stay; retried after a jittered backoff, then recovered", async () => {
    const { clock, server, updater, metric, logs, lines } = await setup();
    server.failures.push(new SidecarFailure("nginx-reload", "nginx master 7 started no new workers"));
    updater.request(ring);
    await eventually(() => logs().some((l) => l.kind === "nginx-reload"));
    const warn = logs().filter((l) => l.kind === "nginx-reload");
    assert.equal(warn.length, 1);
    assert.equal(warn[0]!.level, 40);
    assert.match(warn[0]!.err ?? "", /no new workers/);
    assert.equal(await metric("ticketkeys_sidecar_failures_total", { kind: "nginx-reload" }), 1);
    assert.equal(await metric("ticketkeys_sidecar_consecutive_failures"), 1);
    assert.equal(await metric("ticketkeys_sidecar_in_sync"), 0);
    assert.ok(updater.written && !updater.inSync, "the files are written, the server not told");
    assert.equal(clock.pending, 1, "a retry is scheduled");
    clock.advance(400); // below the first backoff (500..1000 ms)
    assert.equal(clock.pending, 1, "the retry has not fired");
    assert.equal(server.told.length, 0);
    clock.advance(600);
    await eventually(() => server.told.length === 1);
    assert.ok(logs().some((l) => l.msg === "ticket keys applied: recovered"));
    assert.equal(await metric("ticketkeys_sidecar_in_sync"), 1);
    assertNoKeyMaterial(lines.join("\n"), secretsOf(ring));
  });

  it("backs off exponentially up to the maximum; a new ring is tried at once", async () => {
    const { clock, server, updater, metric } = await setup();
    for (let i = 0; i < 6; i++) server.failures.push(new SidecarFailure("haproxy-socket", "no socket"));
    updater.request(ring);
    const attempts = async (n: number): Promise<void> =>
      eventually(() => server.failures.length === 6 - n, 3000, `${n} attempts`);
    await attempts(1);
    for (const [n, ceiling] of [
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 8000],
    ] as const) {
      assert.equal(clock.pending, 1, "a retry is scheduled");
      clock.advance(ceiling / 2 - 1);
      assert.equal(clock.pending, 1, `no retry before half the ceiling (${ceiling} ms)`);
      assert.equal(server.failures.length, 6 - (n - 1), `no retry before half the ceiling (${ceiling} ms)`);
      clock.advance(ceiling / 2 + 1);
      await attempts(n);
    }
    updater.request(next); // a new ring: at once
    await attempts(6);
    assert.equal(await metric("ticketkeys_sidecar_failures_total", { kind: "haproxy-socket" }), 6);
    clock.advance(8000);
    await eventually(() => server.told.length === 1);
  });

  it("the newest request wins: rings requested during an update are applied once, the last one", async () => {
    const { server, updater } = await setup();
    let open!: () => void;
    server.gate = new Promise((resolve) => (open = resolve));
    updater.request(ring);
    updater.request(next);
    updater.request(ring);
    updater.request(next);
    open();
    await eventually(() => server.told.length === 2);
    await updater.idle();
    assert.equal(server.told.length, 2, "the first, then only the last");
  });

  it("before the server was ever reached, a missing server is waited for (not a failure) during the grace", async () => {
    const { server, updater, metric, logs } = await setup({ startupGraceMs: 60_000 });
    server.failures.push(new SidecarFailure("nginx-pid", "cannot read the nginx pid file"));
    updater.request(ring);
    await eventually(() => logs().some((l) => l.msg === "waiting for the server to start"));
    assert.equal(await metric("ticketkeys_sidecar_failures_total"), 0);
    assert.ok(updater.written, "the files are there for the server to start with");
  });

  it("--exec runs after each change of the files (not when nothing changed); a failing or hanging command is a failure", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tko-exec-"));
    const marker = join(dir, "ran");
    const { clock, server, updater, metric } = await setup({
      exec: { command: `echo "$TICKET_KEYS_CHANGED" >> ${marker}`, timeoutMs: 2000 },
    });
    updater.request(ring);
    await eventually(() => server.told.length === 1);
    updater.request(ring);
    await eventually(() => server.told.length === 2);
    assert.equal(await readFile(marker, "utf8"), "active.id\n", "once: the second update changed nothing");
    clock.advanceTo(ring.keys.find((k) => k.activeFrom > t0 + 1000)!.activeFrom);
    updater.request(ring);
    await eventually(() => server.told.length === 3);
    await updater.idle(); // the update is done when --exec is
    assert.equal((await readFile(marker, "utf8")).split("\n").length, 3, "--exec ran after the change");

    const failing = await setup({ exec: { command: "exit 3", timeoutMs: 2000 } });
    failing.updater.request(ring);
    await eventually(() => failing.logs().some((l) => l.kind === "exec"));
    assert.match(failing.logs().find((l) => l.kind === "exec")!.err ?? "", /exited with 3/);
    assert.equal(await failing.metric("ticketkeys_sidecar_failures_total", { kind: "exec" }), 1);

    const hanging = await setup({ exec: { command: "sleep 30", timeoutMs: 200 } });
    hanging.updater.request(ring);
    await eventually(() => hanging.logs().some((l) => l.kind === "exec"), 3000);
    assert.match(
      hanging.logs().find((l) => l.kind === "exec")!.err ?? "",
      /did not finish within 200 ms: killed/,
    );
    assert.equal(await metric("ticketkeys_sidecar_failures_total"), 0);
  });
});
