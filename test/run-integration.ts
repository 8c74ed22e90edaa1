/**
 * Runs the integration tests against a real kube-apiserver: the local control plane, started
 * once for the whole run (or an existing cluster named by --kubeconfig / KUBECONFIG). The
 * control plane is stopped when the tests end, pass or fail.
 */
import { spawn } from "node:child_process";
import { useCluster } from "../harness/cluster/index.ts";

const log = (line: string): void => console.log(`[control-plane] ${line}`);
const started = Date.now();
const cluster = await useCluster(log);
if (cluster.local) {
  log(
    `kube-apiserver ${cluster.version ?? "?"} is up: control plane start took ${cluster.startSeconds?.toFixed(1) ?? "?"} s (${((Date.now() - started) / 1000).toFixed(1)} s including the build check)`,
  );
}
const files = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith("--kubeconfig") && all[i - 1] !== "--kubeconfig");
const child = spawn(
  process.execPath,
  [
    "--test",
    "--test-reporter=spec",
    "--test-concurrency=2",
    ...(files.length > 0 ? files : ["test/integration/**/*.test.ts"]),
  ],
  { stdio: "inherit", env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath } },
);
const code = await new Promise<number>((resolve) => child.on("exit", (c, s) => resolve(c ?? (s ? 1 : 0))));
await cluster.stop();
process.exit(code);
