/**
 * The scenarios the sidecar tests run against each real server (nginx, HAProxy:
 * test/integration/sidecar-*.test.ts), with what differs by server passed in
 * (SidecarServer): shared keys through rotations from the directory source and from the API
 * source, the per-replica baseline, and a fault the sidecar cannot update its server through.
 */
import assert from "node:assert/strict";
import type { ScheduleSpec } from "../../../src/core/index.ts";
import type { ServerCert } from "../../../harness/tls/certs.ts";
import { percent, summarize } from "../../../harness/clients/client.ts";
import { Feeder, ringDirectories } from "../../../harness/fleet/fleet.ts";
import type { ControllerScenario } from "./controller.ts";
import type { FleetKeys, FleetReplica, SidecarFleet } from "../../../harness/sidecar/fleet.ts";
import { activeAt, nextActivation } from "../../../harness/keys.ts";
import {
  afterNextRotation,
  checkAgainstStatus,
  checkShared,
  describeRuns,
  measure,
} from "../../../harness/sidecar/measure.ts";
import { logTime, type LogLine, type SidecarProcess } from "../../../harness/sidecar/process.ts";

/** A server under test, and what its tests do differently. */
export interface SidecarServer<R extends FleetReplica> {
  /** how the printed lines name it: "nginx", "haproxy" */
  name: string;
  /** how the assertion messages name it: "nginx", "HAProxy" */
  title: string;
  startFleet(options: { cert: ServerCert; count?: number; keys: FleetKeys }): Promise<SidecarFleet<R>>;
  /** what the clients send after the handshake (nginx: an HTTP request); default nothing */
  request?: string;
  /** how late the server may still issue tickets under the key that just stopped (checkShared) */
  toleranceMs: number;
  /** prints how the sidecars updated their servers (after a shared-keys run) */
  describeUpdates(fleet: SidecarFleet<R>): Promise<void>;
  /** the server's own checks after a shared-keys run */
  checkServers?(fleet: SidecarFleet<R>): Promise<void>;
}

export const sidecarsOf = (fleet: SidecarFleet<FleetReplica>): SidecarProcess[] =>
  fleet.replicas.flatMap((r) => (r.sidecar ? [r.sidecar] : []));

const requestOf = (server: { request?: string }): { request?: string } =>
  server.request === undefined ? {} : { request: server.request };

/**
 * Rings from the rig's Feeder (5 s interval) delivered to 3 replicas up to 2 s apart, through
 * >= 3 rotations: checkShared (>= 99% resumed per client and TLS version, no loss with a live
 * key, tickets under the active key), no sidecar failure, >= 6 updates each.
 */
export async function sharedKeysFromDirectories<R extends FleetReplica>(
  server: SidecarServer<R>,
  cert: ServerCert,
): Promise<void> {
  const dirs = await ringDirectories(3);
  const feeder = await Feeder.start(dirs, [0, 1000, 2000], {
    rotationIntervalMs: 5000,
    retiredKeys: 1,
    suspend: false,
  });
  const fleet = await server.startFleet({
    cert,
    keys: { sidecarArgs: (i) => [`--directory=${dirs[i] ?? ""}`] },
  });
  try {
    // Start right after a rotation: a TLS 1.2 client then loses at most one resumption in
    // 3 intervals (see afterNextRotation).
    const start = await afterNextRotation(feeder, sidecarsOf(fleet));
    const m = await measure({
      balancerPort: fleet.balancer.port,
      replicaPorts: fleet.replicas.map((r) => r.port),
      cert,
      ...requestOf(server),
      // 3 rotations, and the renewals after the last one
      done: () => feeder.rotations >= start + 3 && Date.now() > (feeder.rotationTimes.at(-1) ?? 0) + 3000,
      timeoutMs: 40_000,
    });
    console.log(
      `# ${server.name} directory source: ${feeder.rotations - start} rotations in ${((m.endedAt - m.startedAt) / 1000).toFixed(1)} s`,
    );
    checkShared(`${server.name} directory source`, sidecarsOf(fleet), m, feeder.keys, server.toleranceMs);
    await server.describeUpdates(fleet);
    for (const sidecar of sidecarsOf(fleet)) {
      assert.equal(await sidecar.metric("ticketkeys_sidecar_failures_total"), 0, `${sidecar.name} failures`);
      assert.ok((await sidecar.metric("ticketkeys_sidecar_updates_total")) >= 6, `${sidecar.name} updates`);
    }
    await server.checkServers?.(fleet);
  } finally {
    feeder.stop();
    await fleet.stop();
  }
}

/** Each replica with its own random keys (the baseline): about 1/3 of the reconnections resume. */
export async function perReplicaKeys<R extends FleetReplica>(
  server: SidecarServer<R>,
  cert: ServerCert,
): Promise<void> {
  const fleet = await server.startFleet({ cert, keys: "per-replica" });
  try {
    const end = Date.now() + 6000;
    const m = await measure({
      balancerPort: fleet.balancer.port,
      replicaPorts: [],
      cert,
      ...requestOf(server),
      done: () => Date.now() > end,
      timeoutMs: 20_000,
    });
    for (const line of describeRuns(m.runs, new Map()))
      console.log(`# ${server.name} per-replica keys: ${line}`);
    for (const run of m.runs) {
      const s = summarize(run.handshakes);
      assert.equal(s.errors, 0);
      assert.ok(s.rate > 0.15 && s.rate < 0.55, `${run.label}: ${percent(s.rate)} (expected about 1/3)`);
    }
  } finally {
    await fleet.stop();
  }
}

/**
 * The controller on the control plane rotating every 10 s (`scenario`), the sidecars on the API
 * source as a ServiceAccount holding only the minimal Role, through >= 3 rotations: checkShared,
 * and the servers encrypt with the key the policy's status names (checkAgainstStatus).
 */
export async function sharedKeysFromTheApi<R extends FleetReplica>(
  server: SidecarServer<R>,
  cert: ServerCert,
  scenario: ControllerScenario,
): Promise<void> {
  const kubeconfig = await scenario.serviceAccount(`${server.name}-sidecar`);
  const fleet = await server.startFleet({
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
      replicaPorts: fleet.replicas.map((r) => r.port),
      cert,
      ...requestOf(server),
      done: () => watch.rotations() >= 3 && Date.now() > watch.lastChange() + 3000,
      timeoutMs: 60_000,
    });
    watch.stop();
    const keys = scenario.keys();
    console.log(
      `# ${server.name} API source: ${watch.rotations()} rotations in ${((m.endedAt - m.startedAt) / 1000).toFixed(1)} s`,
    );
    checkShared(`${server.name} API source`, sidecarsOf(fleet), m, keys, server.toleranceMs);
    checkAgainstStatus(`${server.name} API source`, m, watch.samples, keys, server.toleranceMs);
    await server.describeUpdates(fleet);
    await server.checkServers?.(fleet);
  } finally {
    await fleet.stop();
  }
}

/** One replica whose sidecar follows a ring directory the feeder rotates every 3 s. */
export async function oneFedReplica<R extends FleetReplica>(
  server: SidecarServer<R>,
  cert: ServerCert,
): Promise<{
  dir: string;
  spec: ScheduleSpec;
  feeder: Feeder;
  fleet: SidecarFleet<R>;
  replica: R;
  sidecar: SidecarProcess;
}> {
  const [dir = ""] = await ringDirectories(1);
  const spec: ScheduleSpec = { rotationIntervalMs: 3000, retiredKeys: 1, suspend: false };
  const feeder = await Feeder.start([dir], [0], spec);
  const fleet = await server.startFleet({
    cert,
    count: 1,
    keys: { sidecarArgs: () => [`--directory=${dir}`] },
  });
  const replica = fleet.replicas[0]!;
  return { dir, spec, feeder, fleet, replica, sidecar: replica.sidecar! };
}

/**
 * A fault the sidecar cannot update its server through, from just after a rotation over the
 * next activation: the server still serves and encrypts with the previous key, the sidecar
 * reports it (a log line and the failures metric of `kind`, not in sync); once repaired, the
 * sidecar recovers and the server encrypts with the active key.
 */
export async function faultAndRecovery(options: {
  server: { title: string };
  feeder: Feeder;
  sidecar: SidecarProcess;
  /** the key name (hex) of the ticket the server issues now */
  probe: () => Promise<string | undefined>;
  /** the failure's kind (its log line's and the metric's) */
  kind: string;
  /** what the failure's err says, if checked */
  err?: RegExp;
  /** how the printed lines name the fault, and its repair */
  label: { fault: string; repaired: string };
  inflict(): Promise<void>;
  repair(): Promise<void>;
}): Promise<void> {
  const { feeder, sidecar, probe, kind, label } = options;
  const title = options.server.title;
  await afterNextRotation(feeder, [sidecar]);
  await options.inflict();
  const mark = sidecar.logs.length;
  // The next activation cannot be applied.
  const { previous, active } = await nextActivation(feeder.keys);
  const failure: LogLine = await sidecar.waitForLog(
    (l) => l.kind === kind && logTime(l) >= active.activeFrom,
    10_000,
    mark,
  );
  console.log(`# ${label.fault}: ${failure.msg ?? ""}: ${failure.err ?? ""}`);
  if (options.err !== undefined) assert.match(failure.err ?? "", options.err);
  const served = await probe();
  assert.ok(served !== undefined, `${title} still serves (and issues tickets)`);
  assert.equal(served, previous.name.toString("hex"), `${title} still encrypts with the previous key`);
  assert.ok((await sidecar.metric("ticketkeys_sidecar_failures_total", { kind })) >= 1);
  assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 0);
  await options.repair();
  const recovered = await sidecar.waitForLog((l) => l.msg === "ticket keys applied: recovered", 10_000, mark);
  console.log(
    `# ${label.repaired}: recovered after ${String(recovered["recoveredAfterFailures"])} failed attempts`,
  );
  assert.equal(
    await probe(),
    activeAt(feeder.keys, Date.now())?.name.toString("hex"),
    `${title} encrypts with the active key again`,
  );
  assert.equal(await sidecar.metric("ticketkeys_sidecar_in_sync"), 1);
}
