/**
 * `npm run demo`: the operator on a real control plane. For now: starts the local control plane
 * (or uses KUBECONFIG), reports it ready, and stops it again.
 */
import { useCluster } from "../test/control-plane/index.ts";

const cluster = await useCluster((line) => console.log(line));
console.log(
  `control plane ready: ${cluster.server}${cluster.version ? ` (kube-apiserver ${cluster.version})` : ""}`,
);
await cluster.stop();
