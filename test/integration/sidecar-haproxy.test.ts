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
import { before, describe, it } from "node:test";
import { keyId } from "../../src/core/index.ts";
import { HaproxyRuntime } from "../../src/sidecar/haproxy-runtime.ts";
import { makeServerCert, type ServerCert } from "../../harness/tls/certs.ts";
import {
  startHaproxy,
  startHaproxyFleet,
  type HaproxyFleet,
  type HaproxyReplica,
} from "../../harness/servers/haproxy.ts";
import { issuedKeyNow } from "../../harness/clients/openssl-client.ts";
import { activeAt } from "../../harness/keys.ts";
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

const haproxyServer: SidecarServer<HaproxyReplica> = {
  name: "haproxy",
  title: "HAProxy",
  startFleet: startHaproxyFleet,
  // How late a push may land after an activation instant (the runtime API answers in milliseconds).
  toleranceMs: 500,
  describeUpdates: describePushes,
  checkServers: checkFileInStep,
};

describe("HAProxy with the sidecar", () => {
  it("shared keys through >= 3 rotations (directory source, 5 s, skewed delivery): >= 99% resumed per client and TLS version; tickets under the active key; runtime keys and file in step", () =>
    sharedKeysFromDirectories(haproxyServer, cert));

  it("per-replica keys (the baseline): about 1/3 resumed", () => perReplicaKeys(haproxyServer, cert));

  describe("with the controller on the control plane", () => {
    const scenario = controllerScenarioHooks("sidecar-haproxy");

    it("API source with the minimal Role, 10 s rotations: >= 99% resumed per client and TLS version through >= 3 rotations; HAProxy encrypts with the policy's active key", () =>
      sharedKeysFromTheApi(haproxyServer, cert, scenario()));
  });

  it("the admin socket gone: HAProxy keeps serving with the previous keys, the sidecar reports it and recovers; a restarted HAProxy loads the current keys from the file", async () => {
    const { feeder, fleet, replica, sidecar } = await oneFedReplica(haproxyServer, cert);
    let haproxy = replica.haproxy;
    const probe = (): Promise<string | undefined> =>
      issuedKeyNow({ port: haproxy.port, caPath: cert.caPath });
    try {
      const socket = haproxy.socketPath;
      await faultAndRecovery({
        server: haproxyServer,
        feeder,
        sidecar,
        probe,
        kind: "haproxy-socket",
        label: { fault: "admin socket gone", repaired: "admin socket back" },
        inflict: () => rename(socket, `${socket}.away`),
        repair: () => rename(`${socket}.away`, socket),
      });

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
