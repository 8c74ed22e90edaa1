/** Loading cluster credentials: a kubeconfig path, $KUBECONFIG, ~/.kube/config, or in-cluster. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as k8s from "@kubernetes/client-node";

type CreateDispatcher = (cluster: k8s.Cluster | null, options: Record<string, unknown>) => unknown;
const reusing = new WeakSet<k8s.KubeConfig>();

/**
 * @kubernetes/client-node 2.0 builds a new undici Agent for every API request (its private
 * KubeConfig.createDispatcher): a new TLS connection and a new SecureContext per request, which
 * made 1000 policies cost ~700 MB RSS and most of the CPU. This keeps one dispatcher per
 * (cluster, credentials) on the given KubeConfig, so requests reuse keep-alive connections.
 * Idempotent; credentials that change (rotated client certificates) get a new dispatcher.
 */
export function reuseConnections(kc: k8s.KubeConfig): k8s.KubeConfig {
  if (reusing.has(kc)) return kc;
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  const original = target.createDispatcher;
  if (typeof original !== "function") return kc; // a client-node that no longer has the problem
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, options) => {
    const fingerprint = createHash("sha256");
    for (const field of ["ca", "cert", "key", "pfx", "servername", "rejectUnauthorized"]) {
      const value = options[field];
      fingerprint.update(`${field}=`);
      fingerprint.update(Buffer.isBuffer(value) ? value : `${JSON.stringify(value) as string | undefined}`);
    }
    const key = `${cluster?.name ?? ""}|${cluster?.server ?? ""}|${fingerprint.digest("hex")}`;
    if (!cache.has(key)) cache.set(key, original.call(kc, cluster, options));
    return cache.get(key);
  };
  reusing.add(kc);
  return kc;
}

export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path !== undefined && path !== "") kc.loadFromFile(path);
  else kc.loadFromDefault();
  return reuseConnections(kc);
}

/** The namespace this pod runs in, when running in a cluster. */
export function podNamespace(): string | undefined {
  if (process.env["POD_NAMESPACE"]) return process.env["POD_NAMESPACE"];
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim();
  } catch {
    return undefined;
  }
}
