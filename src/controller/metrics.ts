/** Prometheus metrics of the controller. Labels carry namespaces, names and reasons: never keys. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function controllerMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    rotations: new Counter({
      name: "ticketkeys_rotations_total",
      help: "Key ring changes written, by kind (generated, rotated, revoked, purged).",
      labelNames: ["namespace", "policy", "kind"],
      registers: [registry],
    }),
    secretWriteFailures: new Counter({
      name: "ticketkeys_secret_write_failures_total",
      help: "Secret writes the API refused (admission, quota, RBAC, validation); retried with backoff.",
      labelNames: ["namespace", "policy"],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: "ticketkeys_reconcile_errors_total",
      help: "Reconciles that failed and were retried with backoff.",
      labelNames: ["namespace", "policy"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "ticketkeys_reconcile_duration_seconds",
      help: "Time to reconcile one policy.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ready: new Gauge({
      name: "ticketkeys_policy_ready",
      help: "1 when the policy's Ready condition is True.",
      labelNames: ["namespace", "policy"],
      registers: [registry],
    }),
    nextRotation: new Gauge({
      name: "ticketkeys_next_rotation_timestamp_seconds",
      help: "When the policy's pending key becomes active (Unix time).",
      labelNames: ["namespace", "policy"],
      registers: [registry],
    }),
    leader: new Gauge({
      name: "ticketkeys_leader",
      help: "1 while this process holds the leader Lease.",
      registers: [registry],
    }),
  };
}

export type ControllerMetrics = ReturnType<typeof controllerMetrics>;
