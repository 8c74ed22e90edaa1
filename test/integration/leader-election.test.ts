/**
 * Two controller processes with Lease leader election: exactly one writes; `kill -9` of the
 * leader hands over within the lease time, and the ring loses no key and skips or doubles no
 * rotation across the takeover.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { activeKey, keyId } from "../../src/core/ring.ts";
import { adminConfig, tempNamespace, waitUntil } from "../../harness/cluster/kube.ts";
import {
  eventsFor,
  installCrd,
  policies,
  startController,
  waitForCondition,
  type OperatorProcess,
} from "../../harness/operator/operator.ts";
import { recordSecret } from "../../harness/operator/secret-history.ts";

const kc = adminConfig();
const leases = kc.makeApiClient(k8s.CoordinationV1Api);
const interval = 10_000;
const leaseMs = 4_000;

let ns: Awaited<ReturnType<typeof tempNamespace>>;
const procs: OperatorProcess[] = [];
const histories: { stop(): void }[] = [];

before(async () => {
  await installCrd(kc);
  ns = await tempNamespace(kc, "leader");
});
after(async () => {
  for (const h of histories) h.stop();
  await Promise.all(procs.map((p) => p.stop()));
  await ns.remove();
});

async function holder(): Promise<string> {
  const lease = await leases
    .readNamespacedLease({ name: "ticket-key-operator", namespace: ns.name })
    .catch(() => undefined);
  return lease?.spec?.holderIdentity ?? "";
}

it("one leader writes; kill -9 hands over within the lease time without losing or doubling a rotation", async () => {
  const args = [
    "--leader-elect=true",
    `--leader-election-namespace=${ns.name}`,
    "--lease-duration=4s",
    "--renew-deadline=3s",
    "--retry-period=1s",
  ];
  procs.push(startController(ns.name, args), startController(ns.name, args));
  const history = await recordSecret(kc, ns.name, "ha");
  histories.push(history);
  await policies(kc).create(ns.name, "ha", { rotationInterval: "10s", retiredKeys: 1 });
  await waitForCondition(kc, ns.name, "ha", { status: "True" });

  const leaderId = await waitUntil("a lease holder", async () => (await holder()) || undefined);
  const leader = procs.find((p) => leaderId.endsWith(`_${p.child.pid ?? ""}`));
  const follower = procs.find((p) => p !== leader);
  assert.ok(leader && follower, `lease holder ${leaderId} is one of the two processes`);

  // Let one rotation happen under the first leader: only it reports events and logs work.
  await waitUntil(
    "a rotation",
    async () => (await eventsFor(kc, ns.name, "ha")).some((e) => e.reason === "Rotated"),
    2 * interval,
  );
  const instances = new Set((await eventsFor(kc, ns.name, "ha")).map((e) => e.reportingInstance));
  assert.deepEqual([...instances], [leaderId], "every event comes from the leader");
  assert.ok(
    !follower.lines.some((l) => l.includes("controller started")),
    "the follower never started its controller",
  );

  // Kill the leader one second before a rotation is due, so the rotation falls in the takeover.
  const next = Date.parse((await policies(kc).get(ns.name, "ha")).status?.nextRotationTime ?? "");
  await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now() - 1000)));
  const killedAt = Date.now();
  await leader.kill();
  const newLeader = await waitUntil(
    "the follower to take the lease",
    async () => {
      const h = await holder();
      return h !== "" && h !== leaderId ? h : undefined;
    },
    3 * leaseMs,
    50,
  );
  const takeover = Date.now() - killedAt;
  console.log(
    `# leader ${leaderId} killed; ${newLeader} took over after ${takeover} ms (lease ${leaseMs} ms)`,
  );
  assert.ok(takeover <= leaseMs + 2_000, `takeover took ${takeover} ms`);

  // Two more rotations under the new leader.
  const rotationsBefore = (await eventsFor(kc, ns.name, "ha")).filter((e) => e.reason === "Rotated").length;
  await waitUntil(
    "two rotations by the new leader",
    async () =>
      (await eventsFor(kc, ns.name, "ha")).filter((e) => e.reason === "Rotated").length >=
      rotationsBefore + 2,
    3 * interval + 5_000,
    250,
  );
  history.stop();

  // SIGTERM releases the lease: a third candidate takes over without waiting for expiry.
  const third = startController(ns.name, args);
  procs.push(third);
  await waitUntil("the third candidate to campaign", () =>
    Promise.resolve(third.lines.some((l) => l.includes("campaigning for leadership"))),
  );
  const current = procs.find((p) => newLeader.endsWith(`_${p.child.pid ?? ""}`))!;
  const termAt = Date.now();
  await current.stop();
  const successor = await waitUntil(
    "the third candidate to take the released lease",
    async () => {
      const h = await holder();
      return h.endsWith(`_${third.child.pid ?? ""}`) ? h : undefined;
    },
    leaseMs + 3_000,
    50,
  );
  const handover = Date.now() - termAt;
  console.log(`# ${newLeader} released the lease on SIGTERM; ${successor} took it after ${handover} ms`);
  assert.ok(handover < leaseMs, `a released lease is taken before it would have expired (${handover} ms)`);

  const rings = history.versions.filter((v) => v.ring !== undefined);
  const iso = (t: number): string => new Date(t).toISOString().slice(11, 23);
  const show = (v: (typeof rings)[number]): string =>
    `${iso(v.seenAt)}: ${v.ring!.keys.map((x) => `${keyId(x)}[${iso(x.activeFrom)}..${iso(x.activeUntil)} exp ${iso(x.expiresAt)}]`).join(" ")}`;
  // no key lost: a key still live in one version is present in the next
  for (let i = 1; i < rings.length; i++) {
    const prev = rings[i - 1]!;
    const cur = rings[i]!;
    const names = new Set(cur.ring!.keys.map((k) => keyId(k)));
    for (const k of prev.ring!.keys) {
      // (never-used padding keys, created after their activeFrom, may be trimmed at any rotation)
      if (k.expiresAt > cur.seenAt + 1500 && k.createdAt <= k.activeFrom) {
        assert.ok(
          names.has(keyId(k)),
          `key ${keyId(k)} vanished before it expired:\n${show(prev)}\n${show(cur)}`,
        );
      }
    }
  }
  // no rotation skipped or doubled: consecutive keys activate one interval apart, plus latency
  const used = new Map<string, number>();
  for (const v of rings)
    for (const k of v.ring!.keys) if (k.createdAt <= k.activeFrom) used.set(keyId(k), k.activeFrom);
  const firstActive = activeKey(rings[0]!.ring!, rings[0]!.seenAt)!.activeFrom;
  const starts = [...used.values()].filter((t) => t >= firstActive).sort((a, b) => a - b);
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  console.log(`# activation gaps across the takeover (ms): ${gaps.join(", ")}`);
  assert.ok(gaps.length >= 3);
  for (const gap of gaps) {
    assert.ok(gap >= interval && gap <= interval + leaseMs + 2_000, `activation gap ${gap} ms`);
  }
});
