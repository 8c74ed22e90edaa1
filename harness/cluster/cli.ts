/**
 * `npm run cluster`: starts the local control plane, prints how to use it, runs until Ctrl-C,
 * then stops every process it started.
 */
import { parseArgs } from "node:util";
import { ensureBinaries } from "./build.ts";
import { startLocalControlPlane } from "./local.ts";

const usage = `Usage: npm run cluster [-- --build-only]

Starts etcd, kube-apiserver and kube-controller-manager on free loopback ports (building them
first if they are not in the cache), prints the KUBECONFIG to use, and runs until Ctrl-C.

  --build-only   build the binaries into the cache if missing, then exit
  --help         show this help
`;
let flags: { "build-only"?: boolean; help?: boolean };
try {
  flags = parseArgs({ options: { "build-only": { type: "boolean" }, help: { type: "boolean" } } }).values;
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
  process.exit(2);
}
if (flags.help === true) {
  process.stdout.write(usage);
  process.exit(0);
}
if (flags["build-only"] === true) {
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
let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping the control plane...");
  void plane.stop().then(() => process.exit(0));
};
process.removeAllListeners("SIGINT");
process.removeAllListeners("SIGTERM");
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
// `npm run cluster` stopped the way a supervisor or `timeout` stops it (a signal to npm alone)
// leaves this process orphaned, keeping the control plane up: stop when the parent is gone.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    console.log(`\nparent process ${parent} is gone`);
    shutdown();
  }
}, 500);
