/**
 * `ticket-key-operator sidecar`: the sidecar container process. Flags (each with an environment
 * fallback) in options.ts; JSON logs; /healthz /readyz /metrics and the graceful shutdown in
 * process/lifecycle.ts. Runs as `ticket-key-operator sidecar ...` (src/cli.ts).
 */
import { readdir } from "node:fs/promises";

import { createLogger, describeError, type Logger } from "../observability/log.ts";
import { ProcessLifecycle } from "../process/lifecycle.ts";
import { BaseRingSource, directorySource, kubernetesSource, type RingSource } from "../consumer/index.ts";
import { removeStaleTemporaries } from "./atomic-write.ts";
import { HaproxyRuntime } from "./haproxy-runtime.ts";
import { sidecarMetrics } from "./metrics.ts";
import { pidFileLocator, processNameLocator } from "./nginx-master.ts";
import { parseSidecarFlags, sidecarUsage, type SidecarConfig } from "./options.ts";
import { Sidecar } from "./sidecar.ts";
import { EnvoyServer } from "./servers/envoy.ts";
import { FilesServer } from "./servers/files.ts";
import { HaproxyServer } from "./servers/haproxy.ts";
import { NginxServer } from "./servers/nginx.ts";
import type { ServerAdapter } from "./servers/server.ts";

export { sidecarUsage };

/** nginx-<n>.key files already in --out: a restarted sidecar keeps (at least) their count. */
async function existingSlots(out: string): Promise<number> {
  const entries = await readdir(out);
  return entries.filter((name) => /^nginx-\d+\.key$/.test(name)).length;
}

function serverAdapter(config: SidecarConfig, slotsOnDisk: number, log: Logger): ServerAdapter {
  switch (config.server) {
    case "nginx":
      return new NginxServer({
        cipher: config.cipher,
        slots: config.slots,
        existingSlots: slotsOnDisk,
        locator:
          "pidFile" in config.nginx
            ? pidFileLocator(config.nginx.pidFile)
            : processNameLocator(config.nginx.processName),
        reloadTimeoutMs: config.reloadTimeoutMs,
        log,
      });
    case "haproxy":
      if (config.haproxy === undefined) throw new Error("--server haproxy needs --haproxy-socket");
      return new HaproxyServer({
        cipher: config.cipher,
        runtime: new HaproxyRuntime(config.haproxy.socket),
        ref: config.haproxy.ref,
      });
    case "envoy":
      return new EnvoyServer();
    case "files":
      return new FilesServer({
        formats: config.formats,
        cipher: config.cipher,
        slots: config.slots,
        existingSlots: slotsOnDisk,
        haproxyKeys: 3,
      });
  }
}

async function ringSource(config: SidecarConfig, log: Logger): Promise<RingSource> {
  const { source } = config;
  if ("directory" in source) return directorySource({ path: source.directory, log });
  // The API client is loaded only for this source (it is most of the process's memory).
  const namespace = source.secret.namespace ?? (await import("../kube/config.ts")).podNamespace();
  if (namespace === undefined || namespace === "") {
    throw new Error(
      `--secret ${source.secret.name}: no namespace (give NAMESPACE/NAME, or set POD_NAMESPACE from the downward API)`,
    );
  }
  return kubernetesSource({
    namespace,
    name: source.secret.name,
    log,
    ...(source.kubeconfig === undefined ? {} : { kubeConfig: source.kubeconfig }),
  });
}

export async function runSidecar(argv: string[]): Promise<void> {
  const parsed = parseSidecarFlags(argv);
  if (parsed.help) {
    process.stdout.write(sidecarUsage);
    return;
  }
  const { config } = parsed;
  // The volume must exist (an emptyDir is there before any container starts).
  const slotsOnDisk = await existingSlots(config.out).catch((error: unknown) => {
    throw new Error(`--out ${config.out} is not a readable directory: ${describeError(error)}`);
  });
  await removeStaleTemporaries(config.out);

  const log = createLogger({ name: "sidecar", level: config.logLevel });
  const metrics = sidecarMetrics();
  const source = await ringSource(config, log);
  const sidecar = new Sidecar({
    source,
    server: serverAdapter(config, slotsOnDisk, log),
    out: config.out,
    mode: config.fileMode,
    exec: config.exec,
    metrics,
    log,
    maxBackoffMs: config.maxBackoffMs,
    resyncMs: config.resyncMs,
    startupGraceMs: config.startupGraceMs,
  });

  const lifecycle = new ProcessLifecycle({
    log,
    shutdownMessage: "shutting down; the key files stay in place",
    stop: () => sidecar.stop(),
  });
  const listening = await lifecycle.listen({
    healthAddress: config.healthAddress,
    metricsAddress: config.metricsAddress,
    registry: metrics.registry,
    probes: { healthy: () => true, ready: () => sidecar.ready },
  });
  log.info(
    {
      health: listening[0],
      metrics: listening[1] ?? listening[0],
      server: config.server,
      out: config.out,
      source: source instanceof BaseRingSource ? source.description : undefined,
      cipher: config.cipher,
    },
    "sidecar starting",
  );
  try {
    await sidecar.start();
  } catch (error) {
    // The source cannot work at all (access denied, no such directory): say so and exit.
    log.error({ err: describeError(error) }, "cannot read the ticket key ring");
    await lifecycle.shutdown(1);
  }
}
