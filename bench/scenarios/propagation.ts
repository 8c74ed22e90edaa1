/**
 * Scenario 4: propagation delay, from the moment a Secret's new ring is written to the moment
 * every replica's library source has accepted it, over many updates, for
 *   - the API-watch source: a standalone Secret written through the Kubernetes API (the local
 *     control plane, or --kubeconfig), each replica watching it;
 *   - the directory source: a Secret volume per replica, updated as kubelet does (a new
 *     timestamped directory, `..data` symlink swapped atomically), all at the same moment. This
 *     measures the library's side only; kubelet's own sync delay (up to a minute or two) comes
 *     before it, and is what the rotation scenario's skew stands for.
 * Each update is a new ring (a revoke: every key new), so every replica reports it once.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { keyId, nextRing, serializeRing, type Ring } from "../../src/core/index.ts";
import { managedByLabel, managedByValue, policyLabel, ringDataKey, secretType } from "../../src/api/names.ts";
import { tempNamespace } from "../../harness/cluster/kube.ts";
import { SecretVolume } from "../../harness/fleet/secret-volume.ts";
import { atMost, milliseconds } from "../lib/goals.ts";
import { ProbeSet } from "../lib/probes.ts";
import type { Scenario } from "../lib/scenario.ts";
import { max, num, percentile, round } from "../lib/stats.ts";
import { barChart } from "../../harness/report/svg.ts";

interface Update {
  /** ms from the write to each replica's acceptance (undefined: not within the timeout) */
  delays: (number | undefined)[];
  /** how long the write itself took (the API request), ms */
  writeMs: number;
}

interface SourceFigures {
  source: string;
  updates: Update[];
  /** per update, ms until EVERY replica had it */
  everyReplica: number[];
  missed: number;
}

const spec = { rotationIntervalMs: 3_600_000, retiredKeys: 1, suspend: false };

function freshRing(previous: Ring | undefined): Ring {
  return nextRing({ previous, spec, now: Date.now(), random: randomBytes, revoke: true }).ring;
}

/** Writes `updates` new rings with `write` and measures when every probe accepted each. */
async function measure(
  source: string,
  probes: ProbeSet,
  first: Ring,
  write: (ring: Ring) => Promise<void>,
  options: { updates: number; timeoutMs: number; gapMs: [number, number] },
): Promise<SourceFigures> {
  const updates: Update[] = [];
  let ring = first;
  for (let i = 0; i < options.updates; i++) {
    ring = freshRing(ring);
    const key = keyId(ring.keys[0]!);
    const arrivals = probes.waitFor(key, options.timeoutMs);
    const writtenAt = Date.now();
    await write(ring);
    const writeMs = Date.now() - writtenAt;
    const at = await arrivals;
    updates.push({
      delays: at.map((t) => (t === undefined ? undefined : Math.max(0, t - writtenAt))),
      writeMs,
    });
    const [low, high] = options.gapMs;
    await sleep(low + Math.random() * (high - low));
  }
  const complete = updates.filter((u) => u.delays.every((d) => d !== undefined));
  return {
    source,
    updates,
    everyReplica: complete.map((u) => max(u.delays as number[])),
    missed: updates.length - complete.length,
  };
}

export const propagation: Scenario = {
  name: "propagation",
  title: "Propagation delay: Secret written to every replica using the new ring",
  async run(context) {
    const parameters = {
      replicas: 3,
      updates: context.quick ? 20 : 100,
      gapMs: [100, 300] as [number, number],
      timeoutMs: 10_000,
      update:
        "a new ring each time (every key new); delay = the last replica's acceptance - the start of the write",
      apiWatch: "a standalone Secret replaced through the API; each replica watches it (kubernetesSource)",
      directory:
        "one Secret volume per replica, written kubelet-style (..data symlink swap) at the same moment (directorySource, default 50 ms debounce); kubelet's own sync delay is not included",
    };
    const results: SourceFigures[] = [];

    // The API watch.
    const cluster = await context.cluster();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ns = await tempNamespace(kc, "bench-propagation");
    const name = "bench-ring";
    const secret = (ring: Ring): k8s.V1Secret => ({
      // labelled as the operator labels its Secrets: the API source accepts no other
      metadata: {
        name,
        namespace: ns.name,
        labels: { [managedByLabel]: managedByValue, [policyLabel]: name },
      },
      type: secretType,
      data: { [ringDataKey]: Buffer.from(serializeRing(ring)).toString("base64") },
    });
    try {
      const first = freshRing(undefined);
      await core.createNamespacedSecret({ namespace: ns.name, body: secret(first) });
      const probes = await ProbeSet.start(
        Array.from({ length: parameters.replicas }, () => [
          "--kubernetes",
          `${ns.name}/${name}`,
          "--kubeconfig",
          cluster.kubeconfigPath,
        ]),
      );
      try {
        context.log(`API watch: ${parameters.updates} updates to ${parameters.replicas} replicas`);
        results.push(
          await measure(
            "API watch",
            probes,
            first,
            async (ring) => {
              await core.replaceNamespacedSecret({ name, namespace: ns.name, body: secret(ring) });
            },
            parameters,
          ),
        );
      } finally {
        await probes.stop();
      }
    } finally {
      await ns.remove();
    }

    // The mounted Secret directory.
    const volumes = await Promise.all(
      Array.from({ length: parameters.replicas }, () => SecretVolume.create()),
    );
    const first = freshRing(undefined);
    await Promise.all(volumes.map((v) => v.write({ [ringDataKey]: serializeRing(first) })));
    const probes = await ProbeSet.start(volumes.map((v) => ["--directory", v.path]));
    try {
      context.log(`directory: ${parameters.updates} updates to ${parameters.replicas} replicas`);
      results.push(
        await measure(
          "directory (kubelet-style swap)",
          probes,
          first,
          async (ring) => {
            const text = serializeRing(ring);
            await Promise.all(volumes.map((v) => v.write({ [ringDataKey]: text })));
          },
          parameters,
        ),
      );
    } finally {
      await probes.stop();
    }

    const stat = (r: SourceFigures) => ({
      p50: percentile(r.everyReplica, 50),
      p99: percentile(r.everyReplica, 99),
      max: max(r.everyReplica),
      perReplicaP50: percentile(
        r.updates.flatMap((u) => u.delays.filter((d): d is number => d !== undefined)),
        50,
      ),
      writeP50: percentile(
        r.updates.map((u) => u.writeMs),
        50,
      ),
    });
    const rows = results.map((r) => {
      const s = stat(r);
      return {
        source: r.source,
        replicas: parameters.replicas,
        updates: r.updates.length,
        "every replica p50 ms": num(s.p50, 0),
        "p99 ms": num(s.p99, 0),
        "max ms": num(s.max, 0),
        "one replica p50 ms": num(s.perReplicaP50, 0),
        "write p50 ms": num(s.writeP50, 0),
        missed: r.missed,
      };
    });
    const api = results[0];
    const apiStat = api === undefined ? undefined : stat(api);
    const goals = [
      atMost(
        "API-watch propagation to every replica, p99",
        apiStat?.p99 ?? Number.NaN,
        1000,
        milliseconds,
        api === undefined
          ? undefined
          : `${api.updates.length} updates, ${parameters.replicas} replicas, ${api.missed} missed`,
      ),
    ];
    const chart = barChart({
      title: `Secret written -> every replica using the new ring (${parameters.updates} updates, ${parameters.replicas} replicas)`,
      groups: results.map((r) => r.source),
      series: ["p50", "p99", "max"],
      values: results.map((r) => {
        const s = stat(r);
        return [s.p50, s.p99, s.max];
      }),
      yLabel: "delay (ms)",
      format: (v) => v.toFixed(0),
    });
    return {
      parameters,
      rows,
      goals,
      headlines: results.map((r) => {
        const s = stat(r);
        return `${r.source}: every replica has the new ring after p50 ${num(s.p50, 0)} ms, p99 ${num(s.p99, 0)} ms, max ${num(s.max, 0)} ms (${r.updates.length} updates, ${parameters.replicas} replicas${r.missed > 0 ? `, ${r.missed} missed` : ""})`;
      }),
      chart,
      details: results.map((r) => ({
        source: r.source,
        missed: r.missed,
        everyReplicaMs: r.everyReplica,
        updates: r.updates.map((u) => ({
          ...u,
          delays: u.delays.map((d) => (d === undefined ? null : round(d, 0))),
        })),
      })),
    };
  },
};
