/**
 * `ticket-key-operator sidecar --server nginx` against real nginx: 3 nginx processes terminating
 * TLS on loopback, each with its own sidecar process, behind a round-robin balancer; Node and
 * OpenSSL clients reconnecting with the session they got, TLS 1.2 and TLS 1.3.
 *
 * - rings from the rig's Feeder (the pure schedule, 5 s interval) into each sidecar's directory,
 *   up to 2 s apart: >= 99% resumed through >= 3 rotations per client and TLS version, no loss
 *   with a live key, and every ticket nginx issues is under the ring's active key (a reload in
 *   progress may finish issuing under the key that just stopped: measured and bounded);
 * - per-replica keys, the baseline: about 1/3;
 * - the controller on the control plane rotating every 10 s, the sidecars on the API source as a
 *   ServiceAccount holding only the minimal Role;
 * - a stale pid file and a malformed ring: nginx keeps serving with the previous keys, the sidecar
 *   reports it (metric and log line) and recovers when the fault goes away.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keyId, nextRing } from "../../src/core/index.ts";
import { makeServerCert, type ServerCert } from "../rig/certs.ts";
import { percent, summarize } from "../rig/client.ts";
import { Feeder, ringDirectories, writeRing } from "../rig/fleet.ts";
import { httpRequest, startNginxFleet, type NginxFleet } from "../rig/nginx.ts";
import { issuedKeyNow } from "../rig/openssl-client.ts";
import {
  activeAt,
  afterNextRotation,
  checkAgainstStatus,
  checkShared,
  describeRuns,
  keyMaterial,
  linesWithKeyMaterial,
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

const sidecarsOf = (fleet: NginxFleet): SidecarProcess[] =>
  fleet.replicas.flatMap((r) => (r.sidecar ? [r.sidecar] : []));

/** How late nginx's graceful reload may finish issuing tickets under the previous key. */
const reloadToleranceMs = 1000;

describe("nginx with the sidecar", () => {
  it("shared keys through >= 3 rotations (directory source, 5 s, skewed delivery): >= 99% resumed per client and TLS version; tickets under the active key", async () => {
    const dirs = await ringDirectories(3);
    const feeder = await Feeder.start(dirs, [0, 1000, 2000], {
      rotationIntervalMs: 5000,
      retiredKeys: 1,
      suspend: false,
    });
    const fleet = await startNginxFleet({
      cert,
      keys: { sidecarArgs: (i) => [`--directory=${dirs[i] ?? ""}`] },
    });
    try {
      // Start right after a rotation: a TLS 1.2 client then loses at most one resumption in
      // 3 intervals (see afterNextRotation).
      const start = await afterNextRotation(feeder, sidecarsOf(fleet));
      const m = await measure({
        balancerPort: fleet.balancer.port,
        replicaPorts: fleet.replicas.map((r) => r.nginx.port),
        cert,
        request: httpRequest,
        // 3 rotations, and the renewals after the last one
        done: () => feeder.rotations >= start + 3 && Date.now() > (feeder.rotationTimes.at(-1) ?? 0) + 3000,
        timeoutMs: 40_000,
      });
      console.log(
        `# nginx directory source: ${feeder.rotations - start} rotations in ${((m.endedAt - m.startedAt) / 1000).toFixed(1)} s`,
      );
      checkShared("nginx directory source", sidecarsOf(fleet), m, feeder.keys, reloadToleranceMs);
      for (const r of fleet.replicas) {
        const sidecar = r.sidecar!;
        assert.equal(await sidecar.metric("ticketkeys_sidecar_failures_total"), 0, `${r.id} failures`);
        assert.ok((await sidecar.metric("ticketkeys_sidecar_updates_total")) >= 6, `${r.id} updates`);
        const reloads = sidecar.logs.filter((l) => l.action === "reloaded").map((l) => l.ms ?? 0);
        const rss = (await sidecar.metric("process_resident_memory_bytes")) / 2 ** 20;
        console.log(
          `# nginx ${r.id}: ${reloads.length} confirmed reloads, ${Math.min(...reloads)}..${Math.max(...reloads)} ms; sidecar RSS ${rss.toFixed(0)} MiB`,
        );
      }
    } finally {
      feeder.stop();
      await fleet.stop();
    }
  });

  it("per-replica keys (the baseline): about 1/3 resumed", async () => {
    const fleet = await startNginxFleet({ cert, keys: "per-replica" });
    try {
      const end = Date.now() + 6000;
      const m = await measure({
        balancerPort: fleet.balancer.port,
        replicaPorts: [],
        cert,
        request: httpRequest,
        done: () => Date.now() > end,
        timeoutMs: 20_000,
      });
      for (const line of describeRuns(m.runs, new Map())) console.log(`# nginx per-replica keys: ${line}`);
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
      scenario = await controllerScenario("sidecar-nginx");
    });
    after(async () => {
      await scenario.stop();
    });

    it("API source with the minimal Role, 10 s rotations: >= 99% resumed per client and TLS version through >= 3 rotations; nginx encrypts with the policy's active key", async () => {
      const kubeconfig = await scenario.serviceAccount("nginx-sidecar");
      const fleet = await startNginxFleet({
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
          replicaPorts: fleet.replicas.map((r) => r.nginx.port),
          cert,
          request: httpRequest,
          done: () => watch.rotations() >= 3 && Date.now() > watch.lastChange() + 3000,
          timeoutMs: 60_000,
        });
        watch.stop();
        const keys = scenario.keys();
        console.log(
          `# nginx API source: ${watch.rotations()} rotations in ${((m.endedAt - m.startedAt) / 1000).toFixed(1)} s`,
        );
        checkShared("nginx API source", sidecarsOf(fleet), m, keys, reloadToleranceMs);
        checkAgainstStatus("nginx API source", m, watch.samples, keys, reloadToleranceMs);
      } finally {
        await fleet.stop();
      }
    });
  });

  it("a stale pid file, then a malformed ring: nginx keeps serving with the previous keys, the sidecar reports each and recovers", async () => {
    const [dir = ""] = await ringDirectories(1);
    const spec = { rotationIntervalMs: 3000, retiredKeys: 1, suspend: false };
    const feeder = await Feeder.start([dir], [0], spec);
    const fleet = await startNginxFleet({
      cert,
      count: 1,
      keys: { sidecarArgs: () => [`--directory=${dir}`] },
    });
    const replica = fleet.replicas[0]!;
    const sidecar = replica.sidecar!;
    const port = replica.nginx.port;
    const probe = (): Promise<string | undefined> =>
      issuedKeyNow({ port, caPath: cert.caPath, request: httpRequest });
    try {
      // 1. The pid file names a live process that is not nginx (this test): never signalled.
      await afterNextRotation(feeder, [sidecar]);
      const realPid = await readFile(replica.nginx.pidFile, "utf8");
      await writeFile(replica.nginx.pidFile, `${process.pid}\n`);
      let mark = sidecar.logs.length;
      // The next activation cannot be applied.
      const { previous, active } = await nextActivation(feeder.keys);
      const failure = await sidecar.waitForLog(
        (l) => l.kind === "nginx-pid" && logTime(l) >= active.activeFrom,
        10_000,
        mark,
      );
      console.log(`# stale pid file: ${failure.msg ?? ""}: ${failure.err ?? ""}`);
      assert.match(failure.err ?? "", /not an nginx master/);
      const served = await probe();
      assert.ok(served !== undefined, "nginx still serves (and issues tickets)");
      assert.equal(served, previous.name.toString("hex"), "nginx still encrypts with the previous key");
      assert.ok((await sidecar.metric("ticketkeys_sidecar_failures_total", { kind: "nginx-pid" })) >= 1);
      assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 0);
      await writeFile(replica.nginx.pidFile, realPid);
      const recovered = await sidecar.waitForLog(
        (l) => l.msg === "ticket keys applied: recovered",
        10_000,
        mark,
      );
      console.log(
        `# stale pid file: recovered after ${String(recovered["recoveredAfterFailures"])} failed attempts`,
      );
      assert.equal(
        await probe(),
        activeAt(feeder.keys, Date.now())?.name.toString("hex"),
        "nginx encrypts with the active key again",
      );
      assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 1);

      // 2. A malformed ring: rejected, the last good ring stays in force, nginx keeps serving.
      feeder.stop();
      const good = feeder.ring;
      mark = sidecar.logs.length;
      await writeFile(join(dir, ".bad"), `{"version":1,"keys":[{"name":"${randomBytes(3).toString("hex")}"`);
      await rename(join(dir, ".bad"), join(dir, "ring.json"));
      const rejected = await sidecar.waitForLog((l) => l.msg?.includes("rejected") === true, 10_000, mark);
      console.log(`# malformed ring: ${rejected.msg ?? ""} (${String(rejected["reason"])})`);
      assert.equal(await sidecar.metric("ticketkeys_sidecar_failures_total", { kind: "ring-rejected" }), 1);
      assert.equal(
        await probe(),
        activeAt(feeder.keys, Date.now())?.name.toString("hex"),
        "the active key of the last good ring",
      );
      // The last good ring's schedule goes on: its pending key starts encrypting on time.
      const pending = good.keys.find((k) => k.activeFrom > Date.now())!;
      await sidecar.waitForLog(
        (l) => l.action === "reloaded" && l.activeKey === keyId(pending),
        10_000,
        mark,
      );
      assert.equal(
        await probe(),
        pending.name.toString("hex"),
        "the pending key of the last good ring activated",
      );
      // A good ring again: accepted and applied.
      const next = nextRing({ previous: good, spec, now: Date.now(), random: randomBytes });
      assert.equal(next.change, "rotated");
      mark = sidecar.logs.length;
      await writeRing(dir, next.ring);
      await sidecar.waitForLog((l) => l.msg === "ticket key ring received", 10_000, mark);
      await sidecar.waitForLog((l) => l.action === "reloaded", 10_000, mark);
      assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 1);
      const secrets = keyMaterial(feeder.keys.values());
      assert.deepEqual(linesWithKeyMaterial(sidecar.lines, secrets), []);
    } finally {
      feeder.stop();
      await fleet.stop();
    }
  });
});
