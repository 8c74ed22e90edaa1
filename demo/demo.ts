/**
 * `npm run demo`: the main job, end to end, on a real control plane.
 *
 * Starts the local control plane (or uses KUBECONFIG), installs the CRD, runs the controller,
 * applies a policy rotating every --interval, starts --replicas Node TLS replicas that load the
 * keys with the library (each as a ServiceAccount holding only the documented minimal Role)
 * behind a round-robin balancer, and drives clients that reconnect continuously with session
 * reuse. Shows a live status line, then a summary table and an SVG chart of the resumption rate
 * over time with the rotations marked. Cleans up everything it started.
 *
 *   npm run demo -- [--duration 90s] [--mode router|single|per-replica] [--replicas 3]
 *                   [--interval 15s] [--tls 1.3|1.2] [--kubeconfig PATH]
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { parseDuration } from "../src/core/duration.ts";
import { useCluster } from "../harness/cluster/index.ts";
import { tempNamespace } from "../harness/cluster/kube.ts";
import { installCrd, policies, startController, waitForCondition } from "../harness/operator/operator.ts";
import { minimalRoleKubeconfig } from "../harness/operator/service-account.ts";
import { makeServerCert } from "../harness/tls/certs.ts";
import { percent, runClient, summarize, type Handshake } from "../harness/clients/client.ts";
import { startFleet, type ReplicaMode } from "../harness/fleet/fleet.ts";
import { lineChart } from "../harness/report/svg.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "90s" },
    mode: { type: "string", default: "router" },
    replicas: { type: "string", default: "3" },
    interval: { type: "string", default: "15s" },
    tls: { type: "string", default: "1.3" },
    clients: { type: "string", default: "8" },
    kubeconfig: { type: "string" },
    out: { type: "string", default: "demo-output" },
  },
});
const durationMs = parseDuration(values.duration);
const mode = values.mode as ReplicaMode;
if (!["router", "single", "per-replica"].includes(mode))
  throw new Error(`--mode must be router, single or per-replica`);
const replicas = Number(values.replicas);
const version = values.tls === "1.2" ? "TLSv1.2" : "TLSv1.3";
const say = (line: string): void => console.log(line);

const cleanups: (() => Promise<unknown>)[] = [];
const cleanup = async (): Promise<void> => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
};

let stopRequested = false;
process.on("SIGINT", () => {
  if (stopRequested) process.exit(130);
  stopRequested = true;
  say("\nstopping (Ctrl-C again to quit at once)...");
});

try {
  const cluster = await useCluster((line) => say(`[control-plane] ${line}`));
  cleanups.push(() => cluster.stop());
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  process.env["KUBECONFIG"] = cluster.kubeconfigPath;

  await installCrd(kc);
  const ns = await tempNamespace(kc, "tko-demo");
  cleanups.push(() => ns.remove());
  const controller = startController(ns.name);
  cleanups.push(() => controller.stop());
  await policies(kc).create(ns.name, "demo", {
    secretName: "demo-ticket-keys",
    rotationInterval: values.interval,
    retiredKeys: 1,
  });
  const ready = await waitForCondition(kc, ns.name, "demo", { status: "True" });
  say(
    `policy ${ns.name}/demo is Ready: Secret demo-ticket-keys, active key ${ready.status?.activeKey ?? "?"}, rotating every ${values.interval}`,
  );

  // The replicas read the Secret as a ServiceAccount with only the library's minimal Role.
  const saKubeconfig = await minimalRoleKubeconfig(kc, {
    namespace: ns.name,
    secretName: "demo-ticket-keys",
    account: "demo-app",
    dir: await mkdtemp(join(tmpdir(), "tko-demo-")),
  });

  const cert = await makeServerCert("p256");
  const fleet = await startFleet({
    replicas,
    mode,
    cert,
    source:
      mode === "per-replica"
        ? "none"
        : { kubernetes: `${ns.name}/demo-ticket-keys`, kubeconfig: saKubeconfig },
  });
  cleanups.push(() => fleet.stop());
  say(
    `${replicas} Node replicas (${mode === "per-replica" ? "per-replica keys: the baseline" : `${mode} mode`}) behind a round-robin balancer on 127.0.0.1:${fleet.balancer.port}; ${values.clients} clients reconnecting with ${version} session reuse for ${values.duration}\n`,
  );

  const start = Date.now();
  const end = start + durationMs;
  const all: Handshake[] = [];
  const rotations: number[] = [];
  let activeKey = ready.status?.activeKey;
  const api = policies(kc);
  const ticker = setInterval(() => {
    void api.get(ns.name, "demo").then(
      (p) => {
        const now = p.status?.activeKey;
        if (now !== undefined && now !== activeKey) {
          rotations.push((Date.now() - start) / 1000);
          activeKey = now;
        }
      },
      () => undefined,
    );
    const recent = summarize(all.filter((h) => h.at > Date.now() - 5000));
    const total = summarize(all);
    process.stdout.write(
      `\r${((Date.now() - start) / 1000).toFixed(0).padStart(4)} s | active key ${activeKey ?? "?"} | rotations ${rotations.length} | resumed ${percent(total.rate)} (last 5 s ${percent(recent.rate)}) | full handshakes ${total.full}   `,
    );
  }, 1000);
  await Promise.all(
    Array.from({ length: Number(values.clients) }, () =>
      runClient({
        port: fleet.balancer.port,
        ca: cert.ca,
        version,
        pauseMs: 20,
        until: () => stopRequested || Date.now() > end,
        onHandshake: (h) => all.push(h),
      }),
    ),
  );
  clearInterval(ticker);
  const elapsed = (Date.now() - start) / 1000;

  const total = summarize(all);
  say("\n");
  console.table([
    {
      mode,
      replicas,
      tls: version,
      seconds: Number(elapsed.toFixed(0)),
      rotations: rotations.length,
      connections: total.handshakes,
      reconnections: total.reconnections,
      resumed: total.resumed,
      "full handshakes": total.full,
      errors: total.errors,
      "resumption rate": percent(total.rate),
    },
  ]);
  // Resumed share of each second's reconnections, in %; NaN (a gap) where there were none.
  const points = Array.from({ length: Math.ceil(elapsed) }, (_, s) => {
    const bucket = summarize(all.filter((h) => h.at >= start + s * 1000 && h.at < start + (s + 1) * 1000));
    return { x: s + 0.5, y: bucket.reconnections > 0 ? bucket.rate * 100 : Number.NaN };
  });
  await mkdir(values.out, { recursive: true });
  const chartPath = resolve(values.out, `resumption-${mode}.svg`);
  await writeFile(
    chartPath,
    lineChart({
      title: `${replicas} replicas, ${mode}, ${version}: ${percent(total.rate)} of ${total.reconnections} reconnections resumed, ${rotations.length} rotations`,
      panels: [
        {
          title: "resumed reconnections per second",
          series: [{ name: `${mode} mode`, points }],
          marks: rotations,
          markLabel: "rotation ",
          xMax: elapsed,
        },
      ],
      xLabel: "seconds since start",
      yLabel: "resumed",
      yMin: 0,
      yMax: 100,
      formatY: (v) => `${v.toFixed(0)}%`,
      note: "dashed vertical lines: the active key changed (the policy's status.activeKey)",
    }),
  );
  await writeFile(
    resolve(values.out, `summary-${mode}.json`),
    `${JSON.stringify({ mode, replicas, tls: version, seconds: elapsed, rotations, ...total }, null, 2)}\n`,
  );
  say(`chart: ${chartPath}`);
} catch (err) {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  say("cleaning up...");
  await cleanup();
}
