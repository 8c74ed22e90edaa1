/**
 * Scenario 6: scale.
 *   - 1000 policies in one namespace: the time until every one is Ready, and the controller's
 *     peak RSS. The controller runs as the container image runs it: the bundle of
 *     scripts/bundle.ts with the image's NODE_OPTIONS (its heap limits), as a child process, on
 *     the local control plane (or --kubeconfig).
 *   - the library's memory in a replica: RSS after a warm-up load of a plain tls.Server process
 *     (no library) next to library replicas in single-key and router mode.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { bundle } from "../../scripts/bundle.ts";
import { imageNodeOptions } from "../../scripts/image.ts";
import { runLoad } from "../../harness/clients/handshake-load.ts";
import type { TlsVersion } from "../../harness/clients/client.ts";
import { tempNamespace } from "../../harness/cluster/kube.ts";
import { installCrd, policies, startController } from "../../harness/operator/operator.ts";
import { atMost, megabytes, seconds } from "../lib/goals.ts";
import { mb, peakRssBytes, rssBytes } from "../lib/proc.ts";
import type { BenchContext, Scenario } from "../lib/scenario.ts";
import {
  startLibraryServer,
  startPlainServer,
  steadyRing,
  type ServerProcess,
} from "../lib/single-server.ts";
import { num, sleep } from "../lib/stats.ts";
import { lineChart } from "../../harness/report/svg.ts";
import type { Row } from "../lib/table.ts";

/** The heap limits the image gives the controller. */
const controllerNodeOptions = imageNodeOptions();

interface ScaleRun {
  policies: number;
  workers: number;
  secondsUntilAllReady: number;
  controllerPeakRssMB: number;
  /** seconds since the first create -> policies Ready (NaN until all exist), controller RSS (MB) */
  samples: { t: number; ready: number; rssMB: number }[];
  createSeconds: number;
  cluster: string;
}

/** Runs `use` with the command bundled into a temporary directory, removed afterwards. */
async function withBundle<T>(use: (bin: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), "tko-bundle-"));
  try {
    return await use(await bundle(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function policiesReady(
  context: BenchContext,
  count: number,
  workers: number,
  bin: string,
): Promise<ScaleRun> {
  const cluster = await context.cluster();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await installCrd(kc);
  const ns = await tempNamespace(kc, "scale");
  // The controller reads KUBECONFIG: the cluster the benchmark uses.
  const controller = startController(
    ns.name,
    [`--workers=${workers}`, "--log-level=warn"],
    { NODE_OPTIONS: controllerNodeOptions, KUBECONFIG: cluster.kubeconfigPath },
    bin,
  );
  try {
    const api = policies(kc);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const pid = controller.child.pid ?? 0;
    const started = Date.now();
    // Create with bounded concurrency, as a user's kubectl apply of many objects would.
    let next = 0;
    const progress: { created: boolean; createSeconds: number; error?: Error } = {
      created: false,
      createSeconds: Number.NaN,
    };
    const creating = Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const i = next++;
          await api.create(ns.name, `p-${String(i).padStart(4, "0")}`, { rotationInterval: "1h" });
        }
      }),
    ).then(
      () => {
        progress.created = true;
        progress.createSeconds = (Date.now() - started) / 1000;
        context.log(`created ${count} policies in ${progress.createSeconds.toFixed(1)} s`);
      },
      (error: unknown) => {
        progress.error = error instanceof Error ? error : new Error(String(error));
      },
    );
    const samples: ScaleRun["samples"] = [];
    let ready = 0;
    let rss = 0;
    while (ready < count) {
      await sleep(500);
      if (progress.error !== undefined) throw progress.error;
      // Listing 1000 policies costs the API server (on the same 2 cores) real work: only once they
      // all exist, as a user would check. Until then only the controller's memory is sampled.
      if (progress.created) {
        const list = (await custom.listNamespacedCustomObject({
          group: "ticketkeys.dev",
          version: "v1alpha1",
          plural: "ticketkeypolicies",
          namespace: ns.name,
        })) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
        ready = list.items.filter((p) =>
          p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        ).length;
      }
      rss = Math.max(rss, await peakRssBytes(pid));
      samples.push({
        t: (Date.now() - started) / 1000,
        ready: progress.created ? ready : Number.NaN,
        rssMB: mb(await rssBytes(pid)),
      });
      if (Date.now() - started > 600_000)
        throw new Error(`${ready}/${count} Ready after 10 minutes: gave up`);
    }
    await creating;
    const secondsUntilAllReady = (Date.now() - started) / 1000;
    context.log(`${count} policies Ready in ${secondsUntilAllReady.toFixed(1)} s`);
    // Let the controller settle and read its peak again.
    await sleep(2000);
    rss = Math.max(rss, await peakRssBytes(pid));
    return {
      policies: count,
      workers,
      secondsUntilAllReady,
      controllerPeakRssMB: mb(rss),
      samples,
      createSeconds: progress.createSeconds,
      cluster: cluster.local ? `local control plane ${cluster.version ?? ""}` : cluster.server,
    };
  } finally {
    await controller.stop();
    await ns.remove();
  }
}

interface MemoryRow {
  server: string;
  rssMB: number;
  peakRssMB: number;
}

/** RSS of a plain tls.Server and of library replicas after the same warm-up load. */
async function libraryMemory(context: BenchContext): Promise<MemoryRow[]> {
  const cert = await context.cert("p256");
  const ring = steadyRing();
  const servers: ServerProcess[] = [];
  try {
    servers.push(await startPlainServer(cert, ring));
    servers.push(await startLibraryServer("single", cert, ring));
    servers.push(await startLibraryServer("router", cert, ring));
    const perLoadMs = context.quick ? 300 : 1500;
    context.log(`library memory: ${servers.length} servers, warm-up ${(4 * perLoadMs) / 1000} s each`);
    for (const server of servers) {
      for (const version of ["TLSv1.2", "TLSv1.3"] as TlsVersion[]) {
        for (const resume of [false, true]) {
          const until = Date.now() + perLoadMs;
          await runLoad({
            port: server.port,
            ca: cert.ca,
            version,
            resume,
            concurrency: 4,
            until: () => Date.now() > until,
          });
        }
      }
    }
    await sleep(1000);
    return await Promise.all(
      servers.map(async (s) => ({
        server: s.name,
        rssMB: mb(await rssBytes(s.pid)),
        peakRssMB: mb(await peakRssBytes(s.pid)),
      })),
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export const scale: Scenario = {
  name: "scale",
  title: "Scale: 1000 policies, controller memory, library memory",
  async run(context) {
    const parameters = {
      policies: context.quick ? 50 : 1000,
      workers: 4,
      controllerNodeOptions,
      rotationInterval: "1h",
      createConcurrency: 16,
      libraryWarmup: "full and resumed handshakes, TLS 1.2 and 1.3, 4 clients, then 1 s idle; RSS = VmRSS",
    };
    const run = await withBundle((bin) =>
      policiesReady(context, parameters.policies, parameters.workers, bin),
    );
    const memory = await libraryMemory(context);
    const plain = memory.find((m) => m.server.startsWith("plain"));
    const rows: Row[] = [
      {
        measure: `${run.policies} policies Ready`,
        value: `${num(run.secondsUntilAllReady, 1)} s`,
        note: `created in ${num(run.createSeconds, 1)} s, ${run.workers} workers`,
      },
      {
        measure: "controller peak RSS",
        value: `${num(run.controllerPeakRssMB, 1)} MB`,
        note: `the bundle, NODE_OPTIONS=${controllerNodeOptions}`,
      },
      ...memory.map((m) => ({
        measure: `RSS after warm-up: ${m.server}`,
        value: `${num(m.rssMB, 1)} MB`,
        note:
          plain === undefined || m === plain
            ? `peak ${num(m.peakRssMB, 1)} MB`
            : `+${num(m.rssMB - plain.rssMB, 1)} MB over the plain server (peak ${num(m.peakRssMB, 1)} MB)`,
      })),
    ];
    const quickNote = context.quick ? `quick run: ${run.policies} policies, the goal is for 1000` : undefined;
    const goals = [
      atMost(`${run.policies} policies Ready`, run.secondsUntilAllReady, 60, seconds, quickNote),
      atMost("controller peak RSS", run.controllerPeakRssMB, 200, megabytes, quickNote),
    ];
    const router = memory.find((m) => m.server === "router");
    const chart = lineChart({
      title: `${run.policies} policies: Ready over time and controller RSS`,
      xLabel: "seconds since the first policy was created",
      yLabel: "",
      yMin: 0,
      yMax: run.policies,
      panels: [
        {
          title: `policies Ready (all in ${num(run.secondsUntilAllReady, 1)} s)`,
          xMax: run.secondsUntilAllReady,
          series: [{ name: "policies Ready", points: run.samples.map((s) => ({ x: s.t, y: s.ready })) }],
          y: { min: 0, max: run.policies, label: "policies Ready", format: (v) => v.toFixed(0) },
        },
        {
          title: `controller RSS (peak ${num(run.controllerPeakRssMB, 1)} MB, goal 200 MB)`,
          xMax: run.secondsUntilAllReady,
          series: [{ name: "controller RSS (MB)", points: run.samples.map((s) => ({ x: s.t, y: s.rssMB })) }],
          y: { min: 0, max: 250, label: "MB", format: (v) => v.toFixed(0) },
        },
      ],
      note: memory.map((m) => `${m.server} ${num(m.rssMB, 1)} MB`).join(", ") + " RSS after warm-up",
    });
    return {
      parameters,
      rows,
      goals,
      headlines: [
        `${run.policies} policies Ready in ${num(run.secondsUntilAllReady, 1)} s; controller peak RSS ${num(run.controllerPeakRssMB, 1)} MB`,
        `library RSS in a replica after warm-up: ${memory.map((m) => `${m.server} ${num(m.rssMB, 1)} MB`).join(", ")}${
          router !== undefined && plain !== undefined
            ? ` (router: +${num(router.rssMB - plain.rssMB, 1)} MB)`
            : ""
        }`,
      ],
      chart,
      details: { ...run, memory },
    };
  },
};
