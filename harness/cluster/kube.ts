/**
 * Cluster access for integration tests. Works against any cluster named by KUBECONFIG (the
 * local control plane started by test/run-integration.ts, or kind): nothing here assumes the
 * local one.
 */
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";

export function adminConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const path = process.env["KUBECONFIG"];
  if (path === undefined || path === "") {
    throw new Error("KUBECONFIG is not set: run integration tests with `npm run test:integration`");
  }
  kc.loadFromFile(path);
  return kc;
}

/** A namespace with a random suffix, deleted by the returned cleanup. */
export async function tempNamespace(
  kc: k8s.KubeConfig,
  prefix: string,
): Promise<{ name: string; remove: () => Promise<void> }> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return {
    name,
    remove: async () => {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

/**
 * A KubeConfig that authenticates as the ServiceAccount `namespace/name` (created if missing)
 * with a short-lived token from the TokenRequest API.
 */
export async function serviceAccountConfig(
  admin: k8s.KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<{ kubeConfig: k8s.KubeConfig; token: string }> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if (!(err instanceof k8s.ApiException) || err.code !== 409) throw err;
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = tr.status?.token;
  if (token === undefined) throw new Error(`no token issued for ${namespace}/${name}`);
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error("admin kubeconfig has no current cluster");
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromClusterAndUser(cluster, { name: `${namespace}-${name}`, token });
  return { kubeConfig, token };
}

export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
