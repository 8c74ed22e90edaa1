/**
 * Chooses the cluster that tests, the demo and benchmarks talk to: an existing one when a
 * `--kubeconfig` flag or KUBECONFIG names a kubeconfig file that exists (that is how the same
 * suite runs on kind), otherwise the local control plane, started here and stopped by `stop()`.
 */
import { existingKubeconfig, readKubeconfigServer, startLocalControlPlane } from "./local.ts";

export { startLocalControlPlane, type LocalControlPlane } from "./local.ts";
export { ensureBinaries, binaryPath } from "./build.ts";
export { versions } from "./versions.ts";

export interface Cluster {
  kubeconfigPath: string;
  server: string;
  /** true when this process started the control plane (and stop() tears it down) */
  local: boolean;
  version?: string;
  startSeconds?: number;
  stop(): Promise<void>;
}

export function kubeconfigFromArgs(argv: string[] = process.argv): string | undefined {
  const i = argv.findIndex((a) => a === "--kubeconfig" || a.startsWith("--kubeconfig="));
  if (i < 0) return process.env["KUBECONFIG"];
  const arg = argv[i] ?? "";
  return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[i + 1];
}

export async function useCluster(
  log: (line: string) => void,
  argv: string[] = process.argv,
): Promise<Cluster> {
  const path = kubeconfigFromArgs(argv);
  if (existingKubeconfig(path)) {
    const server = await readKubeconfigServer(path);
    log(`using the existing cluster at ${server} (kubeconfig ${path})`);
    return { kubeconfigPath: path, server, local: false, stop: () => Promise.resolve() };
  }
  const plane = await startLocalControlPlane({ log });
  log(
    `local control plane: kube-apiserver ${plane.version} at ${plane.server}, ready in ${plane.startSeconds.toFixed(1)} s`,
  );
  return { ...plane, local: true };
}
