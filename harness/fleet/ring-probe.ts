/**
 * A consumer that only listens: a process holding one library ring source (the Kubernetes API or
 * a mounted Secret directory) that prints one JSON line per ring it accepts, with the moment it
 * accepted it. The propagation benchmark runs several and matches their lines with its writes.
 *
 *   node harness/fleet/ring-probe.ts --id p1 (--directory DIR | --kubernetes NS/NAME [--kubeconfig PATH])
 *
 * Prints {"ready":true} once the source has its first ring, then for every accepted ring
 * {"ring":"<active key id>","keys":["<key id>",...],"at":<epoch ms>}, and {"error":...} on failure.
 * Key ids only, never key bytes.
 */
import { parseArgs } from "node:util";
import { activeKey, keyId } from "../../src/core/index.ts";
import { directorySource, kubernetesSource, type RingSource } from "../../src/consumer/index.ts";
import { createLogger } from "../../src/observability/log.ts";

const { values } = parseArgs({
  options: {
    id: { type: "string", default: "p" },
    directory: { type: "string" },
    kubernetes: { type: "string" },
    kubeconfig: { type: "string" },
  },
});

const log = createLogger({ name: `ring-probe-${values.id}`, level: process.env["LOG_LEVEL"] ?? "warn" });
const print = (message: object): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

function source(): RingSource {
  if (values.directory !== undefined) return directorySource({ path: values.directory, log });
  const [namespace = "", name = ""] = (values.kubernetes ?? "").split("/");
  return kubernetesSource({
    namespace,
    name,
    log,
    ...(values.kubeconfig === undefined ? {} : { kubeConfig: values.kubeconfig }),
  });
}

try {
  const ringSource = source();
  ringSource.on("ring", (ring) => {
    const at = Date.now();
    const active = activeKey(ring, at) ?? ring.keys[0];
    print({ ring: active === undefined ? "" : keyId(active), keys: ring.keys.map((k) => keyId(k)), at });
  });
  await ringSource.start();
  print({ ready: true });
  process.on("SIGTERM", () => {
    void ringSource.stop().finally(() => process.exit(0));
  });
} catch (err) {
  print({ error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
