/**
 * Releases of the chart on a real cluster, for the integration tests (test/integration/chart,
 * rbac) and the kind suite. helm runs with its own config, cache and data directories, so it
 * never reads or writes the user's.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chartDir, findHelm, helm } from "../../scripts/render-manifests.ts";

export interface Release {
  name: string;
  namespace: string;
  /** the chart's full name for this release: ServiceAccount, Roles, Deployment, Lease */
  fullname: string;
  /** what `helm install` printed, NOTES.txt included */
  output: string;
  uninstall(): Promise<string>;
}

let isolated: NodeJS.ProcessEnv | undefined;
function helmEnv(kubeconfig: string): NodeJS.ProcessEnv {
  if (isolated === undefined) {
    const home = mkdtempSync(join(tmpdir(), "tko-helm-"));
    isolated = {
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_DATA_HOME: join(home, "data"),
    };
  }
  return { ...isolated, KUBECONFIG: kubeconfig };
}

export async function requireHelm(): Promise<string> {
  const path = await findHelm();
  if (path === undefined) throw new Error("no helm binary: run `npm run cluster -- --build-only`");
  return path;
}

/** `helm install` of charts/ticket-key-operator; `set` are --set arguments. Does not wait for pods. */
export async function installRelease(options: {
  kubeconfig: string;
  name: string;
  namespace: string;
  set?: string[];
}): Promise<Release> {
  const helmPath = await requireHelm();
  const env = helmEnv(options.kubeconfig);
  const output = await helm(
    helmPath,
    [
      "install",
      options.name,
      chartDir,
      `--namespace=${options.namespace}`,
      ...(options.set ?? []).map((s) => `--set=${s}`),
    ],
    env,
  );
  const fullname = options.name.includes("ticket-key-operator")
    ? options.name
    : `${options.name}-ticket-key-operator`;
  return {
    name: options.name,
    namespace: options.namespace,
    fullname,
    output,
    uninstall: () =>
      helm(helmPath, ["uninstall", options.name, `--namespace=${options.namespace}`, "--wait"], env),
  };
}
