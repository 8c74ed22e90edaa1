/**
 * `ticket-key-operator sidecar --server haproxy` against real HAProxy 2.6: 3 HAProxy processes
 * terminating TLS on loopback, each with its own sidecar process pushing keys through the
 * runtime API (no reload), behind a round-robin balancer; Node and OpenSSL clients, TLS 1.2 and
 * TLS 1.3.
 *
 * - rings from the rig's Feeder (5 s interval) delivered up to 2 s apart: >= 99% resumed
 *   through >= 3 rotations per client and TLS version, no loss with a live key, every ticket
 *   issued under the ring's active key; HAProxy's runtime keys equal haproxy.keys afterwards;
 * - per-replica keys, the baseline: about 1/3;
 * - the controller on the control plane rotating every 10 s, sidecars on the API source with the
 *   minimal Role;
 * - the admin socket gone: HAProxy keeps serving with the previous keys, the sidecar reports it
 *   and recovers when the socket is back; a restarted HAProxy loads the current keys from the file.
 */
import assert from "node:assert/strict";
import { readFile, rename } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { keyId } from "../../src/core/index.ts";
import { HaproxyRuntime } from "../../src/server-sidecar/haproxy-runtime.ts";
import { makeServerCert, type ServerCert } from "../rig/certs.ts";
import { percent, summarize } from "../rig/client.ts";
import { Feeder, ringDirectories } from "../rig/fleet.ts";
import { startHaproxy, startHaproxyFleet, type HaproxyFleet } from "../rig/haproxy.ts";
import { issuedKeyNow } from "../rig/openssl-client.ts";
import {
  activeAt,
  afterNextRotation,
  checkAgainstStatus,
  checkShared,
  describeRuns,
  logTime,
  measure,
  nextActivation,
  type SidecarProcess,
} from "../rig/server-sidecar.ts";
import { controllerScenario, type ControllerScenario } from "../rig/server-sidecar-controller.ts";

let cert: ServerCert;
before(async () => {
  cert = await makeServerCert("p256");
});

const sidecarsOf = (fleet: HaproxyFleet): SidecarProcess[] =>
  fleet.replicas.flatMap((r) => (r.sidecar ? [r.sidecar] : []));

/** How late a push may land after an activation instant (the runtime API answers in milliseconds). */
const pushToleranceMs = 500;

/** Each HAProxy's runtime keys are exactly the lines of its haproxy.keys (a restart loads the same). */
async function checkFileInStep(fleet: HaproxyFleet): Promise<void> {
  for (const r of fleet.replicas) {
    const runtime = new HaproxyRuntime(r.haproxy.socketPath);
    const held = await runtime.showKeys(r.haproxy.keysFile);
    const file = (await readFile(r.haproxy.keysFile, "utf8"))
      .trim()
      .split("\n")
      .map((line) => Buffer.from(line, "base64"));
    assert.deepEqual(held, file, `${r.id}: runtime keys and haproxy.keys differ`);
  }
}

async function describePushes(fleet: HaproxyFleet): Promise<void> {
  for (const r of fleet.replicas) {
    const rss = ((await r.sidecar?.metric("process_resident_memory_bytes")) ?? 0) / 2 ** 20;
    const applied = r.sidecar?.logs.filter((l) => l.msg?.startsWith("ticket keys applied") === true) ?? [];
    const counts = new Map<string, number>();
    for (const l of applied) counts.set(l.action ?? "?", (counts.get(l.action ?? "?") ?? 0) + 1);
    const ms = applied.map((l) => l.ms ?? 0);
    console.log(
      `# haproxy ${r.id}: ${[...counts].map(([a, n]) => `${n} x ${a}`).join(", ")}; ${Math.min(...ms)}..${Math.max(...ms)} ms per update; sidecar RSS ${rss.toFixed(0)} MiB`,
    );
  }
}

describe("HAProxy with the sidecar", () => {
  it("shared keys through >= 3 rotations (directory source, 5 s, skewed delivery): >= 99% resumed per client and TLS version; tickets under the active key; runtime keys and file in step", async () => {
    const dirs = await ringDirectories(3);
    const feeder = await Feeder.start(dirs, [0, 1000, 2000], {
      rotationIntervalMs: 5000,
      retiredKeys: 1,
      suspend: false,
    });
    const fleet = await startHaproxyFleet({
      cert,
      keys: { sidecarArgs: (i) => [`--directory=${dirs[i] ?? ""}`] },
    });
    try {
      const start = await afterNextRotation(feeder, sidecarsOf(fleet));
      const m = await measure({
        balancerPort: fleet.balancer.port,
        replicaPorts: fleet.replicas.map((r) => r.haproxy.port),
        cert,
        done: () => feeder.rotations >= start + 3 && Date.now() > (feeder.rotationTimes.at(-1) ?? 0) + 3000,
        timeoutMs: 40_000,
      });
      console.log(
        `# haproxy directory source: ${feeder.rotations - start} rotations in ${((m.endedAt - m.startedAt) / 1000).toFixed(1)} s`,
      );
      checkShared("haproxy directory source", sidecarsOf(fleet), m, feeder.keys, pushToleranceMs);
      await describePushes(fleet);
      for (const sidecar of sidecarsOf(fleet)) {
        assert.equal(
          await sidecar.metric("ticketkeys_sidecar_failures_total"),
          0,
          `${sidecar.name} failures`,
        );
        assert.ok((await sidecar.metric("ticketkeys_sidecar_updates_total")) >= 6, `${sidecar.name} updates`);
      }
      await checkFileInStep(fleet);
    } finally {
      feeder.stop();
      await fleet.stop();
    }
  });

  it("per-replica keys (the baseline): about 1/3 resumed", async () => {
    const fleet = await startHaproxyFleet({ cert, keys: "per-replica" });
    try {
      const end = Date.now() + 6000;
      const m = await measure({
        balancerPort: fleet.balancer.port,
        replicaPorts: [],
        cert,
        done: () => Date.now() > end,
        timeoutMs: 20_000,
      });
      for (const line of describeRuns(m.runs, new Map())) console.log(`# haproxy per-replica keys: ${line}`);
      for (const run of m.runs) {
        const s = summarize(run.handshakes);
        assert.equal(s.errors, 0);
        assert.ok(s.rate > 0.15 && s.rate < 0.55, `${run.label}: ${percent(s.rate)} (expected about 1/3)`);
      }
    } finally {
      await fleet.stop();
    }
  });

  describe("with the controller on the control plane", () => {
    let scenario: ControllerScenario;
    before(async () => {
      scenario = await controllerScenario("sidecar-haproxy");
    });
    after(async () => {
      await scenario.stop();
    });

    it("API source with the minimal Role, 10 s rotations: >= 99% resumed per client and TLS version through >= 3 rotations; HAProxy encrypts with the policy's active key", async () => {
      const kubeconfig = await scenario.serviceAccount("haproxy-sidecar");
      const fleet = await startHaproxyFleet({
        cert,
        keys: {
          sidecarArgs: () => [
            `--secret=${scenario.namespace}/${scenario.secretName}`,
            `--kubeconfig=${kubeconfig}`,
          ],
        },
      });
      try {
        const watch = scenario.watchActiveKey();
        const m = await measure({
          balancerPort: fleet.balancer.port,
          replicaPorts: fleet.replicas.map((r) => r.haproxy.port),
          cert,
          done: () => watch.rotations() >= 3 && Date.now() > watch.lastChange() + 3000,
          timeoutMs: 60_000,
        });
        watch.stop();
        const keys = scenario.keys();
        console.log(
          `# haproxy API source: ${watch.rotations()} rotations in ${((m.endedAt - m.startedAt) / 1000).toFixed(1)} s`,
        );
        checkShared("haproxy API source", sidecarsOf(fleet), m, keys, pushToleranceMs);
        checkAgainstStatus("haproxy API source", m, watch.samples, keys, pushToleranceMs);
        await describePushes(fleet);
        await checkFileInStep(fleet);
      } finally {
        await fleet.stop();
      }
    });
  });

  it("the admin socket gone: HAProxy keeps serving with the previous keys, the sidecar reports it and recovers; a restarted HAProxy loads the current keys from the file", async () => {
    const [dir = ""] = await ringDirectories(1);
    const feeder = await Feeder.start([dir], [0], {
      rotationIntervalMs: 3000,
      retiredKeys: 1,
      suspend: false,
    });
    const fleet = await startHaproxyFleet({
      cert,
      count: 1,
      keys: { sidecarArgs: () => [`--directory=${dir}`] },
    });
    const replica = fleet.replicas[0]!;
    const sidecar = replica.sidecar!;
    let haproxy = replica.haproxy;
    const probe = (): Promise<string | undefined> =>
      issuedKeyNow({ port: haproxy.port, caPath: cert.caPath });
    try {
      await afterNextRotation(feeder, [sidecar]);
      const socket = haproxy.socketPath;
      await rename(socket, `${socket}.away`);
      const mark = sidecar.logs.length;
      // The next activation cannot be pushed.
      const { previous, active } = await nextActivation(feeder.keys);
      const failure = await sidecar.waitForLog(
        (l) => l.kind === "haproxy-socket" && logTime(l) >= active.activeFrom,
        10_000,
        mark,
      );
      console.log(`# admin socket gone: ${failure.msg ?? ""}: ${failure.err ?? ""}`);
      const served = await probe();
      assert.ok(served !== undefined, "HAProxy still serves (and issues tickets)");
      assert.equal(served, previous.name.toString("hex"), "HAProxy still encrypts with the previous key");
      assert.ok((await sidecar.metric("ticketkeys_sidecar_failures_total", { kind: "haproxy-socket" })) >= 1);
      assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 0);
      await rename(`${socket}.away`, socket);
      const recovered = await sidecar.waitForLog(
        (l) => l.msg === "ticket keys applied: recovered",
        10_000,
        mark,
      );
      console.log(
        `# admin socket back: recovered after ${String(recovered["recoveredAfterFailures"])} failed attempts`,
      );
      assert.equal(await probe(), activeAt(feeder.keys, Date.now())?.name.toString("hex"));
      assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 1);

      // HAProxy restarts: it loads haproxy.keys, which the sidecar kept in step with the runtime.
      await haproxy.stop();
      haproxy = await startHaproxy({
        id: "h1",
        cert,
        keysFile: haproxy.keysFile,
        backendPort: replica.backend.port,
        dir: haproxy.dir,
      });
      const now = Date.now();
      const current = activeAt(feeder.keys, now)!;
      if (current.activeUntil - now > 300) {
        assert.equal(
          await probe(),
          current.name.toString("hex"),
          "a restarted HAProxy encrypts with the active key",
        );
      }
      const next = feeder.ring.keys.find((k) => k.activeFrom > Date.now())!;
      const afterRestart = sidecar.logs.length;
      await sidecar.waitForLog(
        (l) => l.activeKey === keyId(next) && l.action?.startsWith("pushed") === true,
        10_000,
        afterRestart,
      );
      assert.equal(await probe(), activeAt(feeder.keys, Date.now())?.name.toString("hex"));
    } finally {
      feeder.stop();
      await haproxy.stop();
      await fleet.stop();
    }
  });
});
