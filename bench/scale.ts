/**
 * Scale: 1000 policies in one namespace on the local control plane (or KUBECONFIG). Prints the
 * time until every policy is Ready and the controller's peak RSS, and writes
 * bench/results/scale.json. Not part of `npm test`.
 *
 *   npm run bench:scale -- [--policies 1000] [--workers 4]
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { useCluster } from "../test/control-plane/index.ts";
import { tempNamespace } from "../test/support/kube.ts";
import { installCrd, policies, startController } from "../test/support/operator.ts";

const { values } = parseArgs({
  options: {
    policies: { type: "string", default: "1000" },
    workers: { type: "string", default: "4" },
    kubeconfig: { type: "string" },
  },
});
const count = Number(values.policies);
export const controllerNodeOptions = "--max-old-space-size=128";

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return kb * 1024;
}

const cluster = await useCluster((line) => console.log(`[control-plane] ${line}`));
process.env["KUBECONFIG"] = cluster.kubeconfigPath;
const kc = new k8s.KubeConfig();
kc.loadFromFile(cluster.kubeconfigPath);
try {
  await installCrd(kc);
  const ns = await tempNamespace(kc, "scale");
  // The controller runs with the heap limit its Helm chart and container image set.
  const controller = startController(ns.name, [`--workers=${values.workers}`, "--log-level=warn"], {
    NODE_OPTIONS: controllerNodeOptions,
  });
  const api = policies(kc);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);

  const started = Date.now();
  // Create with bounded concurrency, as a user's kubectl apply of many objects would.
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        await api.create(ns.name, `p-${String(i).padStart(4, "0")}`, { rotationInterval: "1h" });
      }
    }),
  );
  const created = Date.now();
  console.log(`created ${count} policies in ${((created - started) / 1000).toFixed(1)} s`);

  let ready = 0;
  let rss = 0;
  while (ready < count) {
    await new Promise((r) => setTimeout(r, 500));
    const list = (await custom.listNamespacedCustomObject({
      group: "ticketkeys.dev",
      version: "v1alpha1",
      plural: "ticketkeypolicies",
      namespace: ns.name,
    })) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
    ready = list.items.filter((p) =>
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
    rss = Math.max(rss, await peakRss(controller.child.pid ?? 0));
    process.stdout.write(
      `\r${ready}/${count} Ready after ${((Date.now() - started) / 1000).toFixed(1)} s   `,
    );
    if (Date.now() - started > 600_000) throw new Error("gave up after 10 minutes");
  }
  const seconds = (Date.now() - started) / 1000;
  // Let the controller settle and read its peak again.
  await new Promise((r) => setTimeout(r, 2000));
  rss = Math.max(rss, await peakRss(controller.child.pid ?? 0));
  console.log("");
  const result = {
    scenario: "scale",
    policies: count,
    workers: Number(values.workers),
    controllerNodeOptions,
    secondsUntilAllReady: Number(seconds.toFixed(1)),
    controllerPeakRssMB: Number((rss / 2 ** 20).toFixed(1)),
    goals: { secondsUntilAllReady: 60, controllerPeakRssMB: 200 },
    cluster: cluster.local ? `local control plane ${cluster.version ?? ""}` : cluster.server,
    measuredAt: new Date().toISOString(),
  };
  console.table([result]);
  console.log(
    `${count} policies Ready in ${seconds.toFixed(1)} s (goal <= 60 s: ${(seconds / 60).toFixed(2)}x); controller peak RSS ${result.controllerPeakRssMB} MB (goal < 200 MB: ${(result.controllerPeakRssMB / 200).toFixed(2)}x)`,
  );
  await mkdir("bench/results", { recursive: true });
  await writeFile("bench/results/scale.json", `${JSON.stringify(result, null, 2)}\n`);
  await controller.stop();
  await ns.remove();
} finally {
  await cluster.stop();
}
