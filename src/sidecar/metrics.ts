/**
 * Prometheus metrics of the sidecar container, prefixed ticketkeys_sidecar_. Labels carry the
 * server kind, failure kinds, key states and short key ids (keyId): never key bytes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

import { failureKinds } from "./failure.ts";

export function sidecarMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    updates: new Counter({
      name: "ticketkeys_sidecar_updates_total",
      help: "Updates applied: renderings written and the server told (at each key state change and each new ring).",
      labelNames: ["server"],
      registers: [registry],
    }),
    failures: new Counter({
      name: "ticketkeys_sidecar_failures_total",
      help: "Failed update attempts and rejected rings, by kind; the sidecar retries with backoff and the previous keys stay in force.",
      labelNames: ["kind"],
      registers: [registry],
    }),
    consecutiveFailures: new Gauge({
      name: "ticketkeys_sidecar_consecutive_failures",
      help: "Failed update attempts since the last success (0 when the server holds the current keys).",
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: "ticketkeys_sidecar_last_success_timestamp_seconds",
      help: "When the server last confirmed the current keys (Unix time).",
      registers: [registry],
    }),
    lastRing: new Gauge({
      name: "ticketkeys_sidecar_last_ring_timestamp_seconds",
      help: "When the source last delivered a new ring (Unix time): older than one interval means the sidecar misses rotations.",
      registers: [registry],
    }),
    inSync: new Gauge({
      name: "ticketkeys_sidecar_in_sync",
      help: "1 when the last update succeeded (the server holds the ring's current keys), 0 while retrying.",
      registers: [registry],
    }),
    activeKey: new Gauge({
      name: "ticketkeys_sidecar_active_key_info",
      help: "1 for the id of the key the server encrypts with since the last successful update.",
      labelNames: ["key_id"],
      registers: [registry],
    }),
    keys: new Gauge({
      name: "ticketkeys_sidecar_keys",
      help: "Live keys of the ring at the last successful update, by state.",
      labelNames: ["state"],
      registers: [registry],
    }),
    updateDuration: new Histogram({
      name: "ticketkeys_sidecar_update_duration_seconds",
      help: "Time to write the renderings and have the server confirm them (nginx reload, HAProxy push).",
      labelNames: ["server"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
  for (const kind of failureKinds) metrics.failures.inc({ kind }, 0);
  metrics.inSync.set(0);
  return metrics;
}

export type SidecarMetrics = ReturnType<typeof sidecarMetrics>;
