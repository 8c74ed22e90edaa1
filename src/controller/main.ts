/**
 * `ticket-key-operator controller`: the controller process. Flags (some with an environment
 * fallback) in options.ts; leader election, JSON logs; /healthz /readyz /metrics and the graceful
 * shutdown in process/lifecycle.ts.
 */
import { hostname } from "node:os";
import { loadKubeConfig, podNamespace } from "../kube/config.ts";
import { createLogger, describeError } from "../observability/log.ts";
import { ProcessLifecycle } from "../process/lifecycle.ts";
import { Controller } from "./controller.ts";
import { LeaderElector } from "./leader.ts";
import { controllerMetrics } from "./metrics.ts";
import { controllerUsage, parseControllerFlags } from "./options.ts";

export { controllerUsage };

export async function runController(argv: string[]): Promise<void> {
  // Every flag is validated before anything starts.
  const parsed = parseControllerFlags(argv);
  if (parsed.help) {
    process.stdout.write(controllerUsage);
    return;
  }
  const { config } = parsed;
  const { leaderElection } = config;
  const log = createLogger({ name: "controller", level: config.logLevel });
  const identity = `${process.env["POD_NAME"] ?? hostname()}_${process.pid}`;
  const kc = loadKubeConfig(config.kubeconfig);
  const metrics = controllerMetrics();
  const { namespaces, workers } = config;
  const controller = new Controller(kc, { namespaces, workers, log, metrics, instance: identity });

  const leaderElect = leaderElection.enabled;
  let elector: LeaderElector | undefined = undefined as LeaderElector | undefined;
  const lifecycle = new ProcessLifecycle({
    log,
    shutdownMessage: "shutting down",
    stop: async () => {
      await controller.stop().catch(() => undefined);
      await elector?.release();
    },
  });
  const [health, metricsAt = health] = await lifecycle.listen({
    healthAddress: config.healthAddress,
    metricsAddress: config.metricsAddress,
    registry: metrics.registry,
    probes: {
      healthy: () => true,
      ready: () => !leaderElect || elector?.isLeader !== true || controller.isSynced,
    },
    metricsProbes: { healthy: () => true, ready: () => true },
  });
  log.info({ health, metrics: metricsAt }, "serving /healthz, /readyz and /metrics");

  const startController = (): void => {
    metrics.leader.set(1);
    controller.start().catch((err: unknown) => {
      log.error({ err: describeError(err) }, "controller failed to start");
      void lifecycle.shutdown(1);
    });
  };
  if (!leaderElect) {
    log.info({ identity }, "leader election disabled");
    startController();
    return;
  }
  const namespace = leaderElection.namespace ?? podNamespace() ?? "default";
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = leaderElection;
  elector = new LeaderElector(kc, {
    namespace,
    name: leaderElection.id,
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
  });
  log.info({ identity, lease: `${namespace}/${leaderElection.id}` }, "campaigning for leadership");
  metrics.leader.set(0);
  void elector.run({
    onStartedLeading: () => {
      log.info({ identity }, "became leader");
      startController();
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      log.error({ identity }, "lost the leader Lease; exiting so that a fresh process campaigns again");
      void lifecycle.shutdown(1);
    },
    onError: (err) => log.warn({ err: describeError(err) }, "leader election request failed"),
  });
}
