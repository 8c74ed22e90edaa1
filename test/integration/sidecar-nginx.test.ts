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
import { before, describe, it } from "node:test";
import { keyId, nextRing } from "../../src/core/index.ts";
import { makeServerCert, type ServerCert } from "../../harness/tls/certs.ts";
import { writeRing } from "../../harness/fleet/fleet.ts";
import {
  httpRequest,
  startNginxFleet,
  type NginxFleet,
  type NginxReplica,
} from "../../harness/servers/nginx.ts";
import { issuedKeyNow } from "../../harness/clients/openssl-client.ts";
import { activeAt } from "../../harness/keys.ts";
import { findLeaks, keyNeedles } from "../../harness/leaks.ts";
import { controllerScenarioHooks } from "./sidecar/controller.ts";
import {
  faultAndRecovery,
  oneFedReplica,
  perReplicaKeys,
  sharedKeysFromDirectories,
  sharedKeysFromTheApi,
  type SidecarServer,
} from "./sidecar/scenarios.ts";

let cert: ServerCert;
before(async () => {
  cert = await makeServerCert("p256");
});

async function describeReloads(fleet: NginxFleet): Promise<void> {
  for (const r of fleet.replicas) {
    const sidecar = r.sidecar!;
    const reloads = sidecar.logs.filter((l) => l.action === "reloaded").map((l) => l.ms ?? 0);
    const rss = (await sidecar.metric("process_resident_memory_bytes")) / 2 ** 20;
    console.log(
      `# nginx ${r.id}: ${reloads.length} confirmed reloads, ${Math.min(...reloads)}..${Math.max(...reloads)} ms; sidecar RSS ${rss.toFixed(0)} MiB`,
    );
  }
}

const nginxServer: SidecarServer<NginxReplica> = {
  name: "nginx",
  title: "nginx",
  startFleet: startNginxFleet,
  request: httpRequest,
  // How late nginx's graceful reload may finish issuing tickets under the previous key.
  toleranceMs: 1000,
  describeUpdates: describeReloads,
};

describe("nginx with the sidecar", () => {
  it("shared keys through >= 3 rotations (directory source, 5 s, skewed delivery): >= 99% resumed per client and TLS version; tickets under the active key", () =>
    sharedKeysFromDirectories(nginxServer, cert));

  it("per-replica keys (the baseline): about 1/3 resumed", () => perReplicaKeys(nginxServer, cert));

  describe("with the controller on the control plane", () => {
    const scenario = controllerScenarioHooks("sidecar-nginx");

    it("API source with the minimal Role, 10 s rotations: >= 99% resumed per client and TLS version through >= 3 rotations; nginx encrypts with the policy's active key", () =>
      sharedKeysFromTheApi(nginxServer, cert, scenario()));
  });

  it("a stale pid file, then a malformed ring: nginx keeps serving with the previous keys, the sidecar reports each and recovers", async () => {
    const { dir, spec, feeder, fleet, replica, sidecar } = await oneFedReplica(nginxServer, cert);
    const port = replica.nginx.port;
    const probe = (): Promise<string | undefined> =>
      issuedKeyNow({ port, caPath: cert.caPath, request: httpRequest });
    try {
      // 1. The pid file names a live process that is not nginx (this test): never signalled.
      let realPid = "";
      await faultAndRecovery({
        server: nginxServer,
        feeder,
        sidecar,
        probe,
        kind: "nginx-pid",
        err: /not an nginx master/,
        label: { fault: "stale pid file", repaired: "stale pid file" },
        inflict: async () => {
          realPid = await readFile(replica.nginx.pidFile, "utf8");
          await writeFile(replica.nginx.pidFile, `${process.pid}\n`);
        },
        repair: () => writeFile(replica.nginx.pidFile, realPid),
      });

      // 2. A malformed ring: rejected, the last good ring stays in force, nginx keeps serving.
      feeder.stop();
      const good = feeder.ring;
      let mark = sidecar.logs.length;
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
      assert.deepEqual(findLeaks(sidecar.lines, keyNeedles(feeder.keys.values())), []);
    } finally {
      feeder.stop();
      await fleet.stop();
    }
  });
});
