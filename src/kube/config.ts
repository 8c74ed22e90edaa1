/** Loading cluster credentials: a kubeconfig path, $KUBECONFIG, ~/.kube/config, or in-cluster. */
import { readFileSync } from "node:fs";
import * as k8s from "@kubernetes/client-node";

export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path !== undefined && path !== "") kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
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
