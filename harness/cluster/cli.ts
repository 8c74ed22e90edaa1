/**
 * `npm run cluster`: starts the local control plane, prints how to use it, runs until Ctrl-C,
 * then stops every process it started.
 */
import { ensureBinaries } from "./build.ts";
import { startLocalControlPlane } from "./local.ts";

if (process.argv.includes("--build-only")) {
  const started = Date.now();
  const dir = await ensureBinaries((line) => console.log(line));
  console.log(`control plane binaries in ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(0);
}

const plane = await startLocalControlPlane({ log: (line) => console.log(line) });
console.log(`kube-apiserver ${plane.version} ready at ${plane.server} in ${plane.startSeconds.toFixed(1)} s`);
console.log(`kubeconfig: ${plane.kubeconfigPath}`);
console.log(`\n  export KUBECONFIG=${plane.kubeconfigPath}\n`);
console.log("Press Ctrl-C to stop.");
const shutdown = (): void => {
  console.log("\nstopping the control plane...");
  void plane.stop().then(() => process.exit(0));
};
process.removeAllListeners("SIGINT");
process.removeAllListeners("SIGTERM");
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
setInterval(() => undefined, 1 << 30);
