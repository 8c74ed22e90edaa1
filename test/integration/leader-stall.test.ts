/**
 * A leader whose API server stops answering (a stalled TCP proxy between it and the
 * kube-apiserver: requests hang, nothing is refused) steps down by its renew deadline and exits,
 * and the other replica, which still reaches the API, takes over once the Lease expires: the
 * stale leader never acts for longer than its renew deadline.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { adminConfig, tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";
import { startStallProxy, type StallProxy } from "../../harness/cluster/stall-proxy.ts";
import { installCrd, startController, type OperatorProcess } from "../../harness/operator/operator.ts";

const kc = adminConfig();
const leases = kc.makeApiClient(k8s.CoordinationV1Api);
const timing = { leaseMs: 4000, renewDeadlineMs: 3000, retryMs: 1000 };
const args = (namespace: string): string[] => [
  "--leader-elect=true",
  `--leader-election-namespace=${namespace}`,
  "--lease-duration=4s",
  "--renew-deadline=3s",
  "--retry-period=1s",
];

let ns: Awaited<ReturnType<typeof tempNamespace>>;
let proxy: StallProxy;
const procs: OperatorProcess[] = [];

before(async () => {
  await installCrd(kc);
  ns = await tempNamespace(kc, "stall");
  const server = new URL(kc.getCurrentCluster()!.server);
  proxy = await startStallProxy({ host: server.hostname, port: Number(server.port) });
});
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await proxy.close();
  await ns.remove();
});

const holder = async (): Promise<string> =>
  (
    await leases
      .readNamespacedLease({ name: "ticket-key-operator", namespace: ns.name })
      .catch(() => undefined)
  )?.spec?.holderIdentity ?? "";

it("a leader behind a stalled API steps down by its renew deadline; the other replica takes over", async () => {
  // The first controller reaches the API only through the proxy.
  const proxied = new k8s.KubeConfig();
  proxied.loadFromString(kc.exportConfig());
  const cluster = proxied.getCurrentCluster()!;
  proxied.clusters = proxied.clusters.map((c) =>
    c.name === cluster.name ? { ...c, server: `https://${proxy.address}` } : c,
  );
  const kubeconfig = join(tmpdir(), `tko-stall-${ns.name}.kubeconfig`);
  await writeFile(kubeconfig, proxied.exportConfig(), { mode: 0o600 });

  const stale = startController(ns.name, args(ns.name), { KUBECONFIG: kubeconfig });
  procs.push(stale);
  await waitUntil("the proxied controller to lead", async () =>
    (await holder()).endsWith(`_${stale.child.pid ?? ""}`) ? true : undefined,
  );
  const other = startController(ns.name, args(ns.name));
  procs.push(other);
  await waitUntil("the second controller to campaign", () =>
    Promise.resolve(other.lines.some((l) => l.includes("campaigning for leadership")) || undefined),
  );

  const stalledAt = Date.now();
  proxy.stall();
  const code = await Promise.race([
    stale.exited,
    new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 20_000).unref()),
  ]);
  assert.notEqual(code, "still running", "the stale leader still runs 20 s after its API stalled");
  const steppedDown = Date.now() - stalledAt;
  assert.ok(
    stale.lines.some((l) => l.includes("lost the leader Lease")),
    "the stale leader says it lost the Lease",
  );
  await waitUntil(
    "the other controller to hold the Lease",
    async () => ((await holder()).endsWith(`_${other.child.pid ?? ""}`) ? true : undefined),
    20_000,
    100,
  );
  const tookOver = Date.now() - stalledAt;
  console.log(
    `# API stalled for the leader: it stepped down and exited (code ${code}) after ${steppedDown} ms (renew deadline ${timing.renewDeadlineMs} ms); the other replica held the Lease ${tookOver} ms after the stall (lease ${timing.leaseMs} ms)`,
  );
  assert.equal(code, 1);
  // its last renewal was at most one retry period before the stall; allow 1 s for exiting
  assert.ok(steppedDown <= timing.renewDeadlineMs + 1000, `stepped down after ${steppedDown} ms`);
  assert.ok(
    tookOver <= timing.retryMs + timing.leaseMs + 2 * timing.retryMs + 1000,
    `taken over after ${tookOver} ms`,
  );
  proxy.resume();
});
