/**
 * `ticket-key-operator controller`: the controller process. Flags (each with an environment
 * fallback), leader election, /healthz /readyz /metrics, JSON logs, graceful shutdown.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import type { Server } from "node:http";
import { parseDuration } from "../core/duration.ts";
import { loadKubeConfig, podNamespace } from "../kube/config.ts";
import { createLogger, describeError } from "../observability/log.ts";
import { serveProbes } from "../observability/http.ts";
import { Controller } from "./controller.ts";
import { LeaderElector } from "./leader.ts";
import { controllerMetrics } from "./metrics.ts";

export const controllerUsage = `Usage: ticket-key-operator controller [flags]

Watches TicketKeyPolicy objects and keeps one Secret of TLS session ticket keys per policy,
rotated on schedule.

Flags (environment variable in brackets):
  --namespaces a,b            namespaces to watch; default all [WATCH_NAMESPACES]
  --kubeconfig PATH           kubeconfig; default in-cluster or $KUBECONFIG
  --metrics-address ADDR      /metrics listen address, default :8080 [METRICS_ADDRESS]
  --health-address ADDR       /healthz and /readyz listen address, default :8081 [HEALTH_ADDRESS]
  --leader-elect BOOL         elect one active replica through a Lease, default true [LEADER_ELECT]
  --leader-election-namespace NS   namespace of the Lease; default the pod's namespace [POD_NAMESPACE]
  --leader-election-id NAME   name of the Lease, default ticket-key-operator
  --lease-duration D          default 15s;  --renew-deadline D  default 10s;  --retry-period D  default 2s
  --workers N                 policies reconciled concurrently, default 4
  --log-level LEVEL           trace|debug|info|warn|error, default info [LOG_LEVEL]
`;

export async function runController(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespaces: { type: "string", default: process.env["WATCH_NAMESPACES"] ?? "" },
      kubeconfig: { type: "string" },
      "metrics-address": { type: "string", default: process.env["METRICS_ADDRESS"] ?? ":8080" },
      "health-address": { type: "string", default: process.env["HEALTH_ADDRESS"] ?? ":8081" },
      "leader-elect": { type: "string", default: process.env["LEADER_ELECT"] ?? "true" },
      "leader-election-namespace": { type: "string" },
      "leader-election-id": { type: "string", default: "ticket-key-operator" },
      "lease-duration": { type: "string", default: "15s" },
      "renew-deadline": { type: "string", default: "10s" },
      "retry-period": { type: "string", default: "2s" },
      workers: { type: "string", default: "4" },
      "log-level": { type: "string", default: process.env["LOG_LEVEL"] ?? "info" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(controllerUsage);
    return;
  }
  // Validate every flag before starting anything.
  const leaseDurationMs = parseDuration(values["lease-duration"]);
  const renewDeadlineMs = parseDuration(values["renew-deadline"]);
  const retryPeriodMs = parseDuration(values["retry-period"]);
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
    throw new Error("leader election needs --retry-period < --renew-deadline < --lease-duration");
  }
  const log = createLogger({ name: "controller", level: values["log-level"] });
  const identity = `${process.env["POD_NAME"] ?? hostname()}_${process.pid}`;
  const kc = loadKubeConfig(values.kubeconfig);
  const metrics = controllerMetrics();
  const namespaces = values.namespaces
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error(`--workers must be a positive integer, got ${values.workers}`);
  const controller = new Controller(kc, { namespaces, workers, log, metrics, instance: identity });

  const servers: Server[] = [];
  let shuttingDown = false;
  const shutdown = async (code: number): Promise<never> => {
    if (!shuttingDown) {
      shuttingDown = true;
      log.info("shutting down");
      await controller.stop().catch(() => undefined);
      await elector?.release();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
    process.exit(code);
  };
  process.once("SIGTERM", () => void shutdown(0));
  process.once("SIGINT", () => void shutdown(0));

  const leaderElect = values["leader-elect"] !== "false";
  let elector: LeaderElector | undefined = undefined as LeaderElector | undefined;
  servers.push(
    await serveProbes(values["health-address"], metrics.registry, {
      healthy: () => true,
      ready: () => !leaderElect || elector?.isLeader !== true || controller.isSynced,
    }),
  );
  if (values["metrics-address"] !== values["health-address"]) {
    servers.push(
      await serveProbes(values["metrics-address"], metrics.registry, {
        healthy: () => true,
        ready: () => true,
      }),
    );
  }

  const startController = (): void => {
    metrics.leader.set(1);
    controller.start().catch((err: unknown) => {
      log.error({ err: describeError(err) }, "controller failed to start");
      void shutdown(1);
    });
  };
  if (!leaderElect) {
    log.info({ identity }, "leader election disabled");
    startController();
    return;
  }
  const namespace = values["leader-election-namespace"] ?? podNamespace() ?? "default";
  elector = new LeaderElector(kc, {
    namespace,
    name: values["leader-election-id"],
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
  });
  log.info({ identity, lease: `${namespace}/${values["leader-election-id"]}` }, "campaigning for leadership");
  metrics.leader.set(0);
  void elector.run({
    onStartedLeading: () => {
      log.info({ identity }, "became leader");
      startController();
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      log.error({ identity }, "lost the leader Lease; exiting so that a fresh process campaigns again");
      void shutdown(1);
    },
    onError: (err) => log.warn({ err: describeError(err) }, "leader election request failed"),
  });
}
