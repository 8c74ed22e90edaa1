/**
 * Prometheus metrics of a consumer (single-key or router), prefixed ticketkeys_consumer_.
 * Labels carry key states, short key ids (keyId) and outcomes: never key bytes. Two consumers
 * given the same registry share the metrics (they are created once per registry).
 */
import { Counter, Gauge, Registry } from "prom-client";

/** What the router did with an accepted connection. */
export type RouteOutcome =
  /** A ticket whose key this router holds: sent to that key's server. */
  | "ticket"
  /** A ticket under a key this router does not hold: sent to the active key's server. */
  | "unknown-key"
  | "no-ticket"
  | "not-tls"
  | "malformed"
  /** No complete ClientHello within helloTimeoutMs: closed. */
  | "timeout"
  /** The client closed before a complete ClientHello. */
  | "closed"
  /** Arrived before the first ring: closed. */
  | "not-ready";
export const routeOutcomes: readonly RouteOutcome[] = [
  "ticket",
  "unknown-key",
  "no-ticket",
  "not-tls",
  "malformed",
  "timeout",
  "closed",
  "not-ready",
];

export interface ConsumerMetrics {
  readonly registry: Registry;
  /** ticketkeys_consumer_handshakes_total{resumed="true"|"false", key_state} */
  readonly handshakes: Counter<"resumed" | "key_state">;
  /** ticketkeys_consumer_active_key_info{key_id}: 1 for the key that encrypts. */
  readonly activeKey: Gauge<"key_id">;
  /** ticketkeys_consumer_keys{state}: live keys by state. */
  readonly keys: Gauge<"state">;
  /** ticketkeys_consumer_key_activations_total: switches of the encrypting key. */
  readonly keyActivations: Counter;
  /** ticketkeys_consumer_last_update_timestamp_seconds: when the last new ring was accepted. */
  readonly lastUpdate: Gauge;
  /** ticketkeys_consumer_rejected_updates_total */
  readonly rejectedUpdates: Counter;
  /** ticketkeys_consumer_source_errors_total */
  readonly sourceErrors: Counter;
  /** ticketkeys_consumer_router_connections_total{outcome} (router only). */
  readonly routerConnections: Counter<"outcome">;
}

function counter<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: T[],
): Counter<T> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<T extends string>(registry: Registry, name: string, help: string, labelNames: T[]): Gauge<T> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Gauge) return existing;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

/** The consumer metrics, registered in `registry` (a new Registry by default) or reused from it. */
export function consumerMetrics(registry: Registry = new Registry()): ConsumerMetrics {
  const prefix = "ticketkeys_consumer_";
  return {
    registry,
    handshakes: counter(
      registry,
      `${prefix}handshakes_total`,
      "TLS handshakes completed, by whether the session was resumed and the state of the key of the server that took it.",
      ["resumed", "key_state"],
    ),
    activeKey: gauge(
      registry,
      `${prefix}active_key_info`,
      "1 for the id of the key that encrypts new tickets.",
      ["key_id"],
    ),
    keys: gauge(registry, `${prefix}keys`, "Live ticket keys, by state.", ["state"]),
    keyActivations: counter(
      registry,
      `${prefix}key_activations_total`,
      "Switches of the encrypting key.",
      [],
    ),
    lastUpdate: gauge(
      registry,
      `${prefix}last_update_timestamp_seconds`,
      "When the last new key ring was accepted (Unix time).",
      [],
    ),
    rejectedUpdates: counter(
      registry,
      `${prefix}rejected_updates_total`,
      "Key ring updates rejected as malformed or tampered; the last good ring stayed in force.",
      [],
    ),
    sourceErrors: counter(
      registry,
      `${prefix}source_errors_total`,
      "Failures of the key source (API or file system); it retries and keeps the last good ring.",
      [],
    ),
    routerConnections: counter(
      registry,
      `${prefix}router_connections_total`,
      "Connections accepted by the multi-key router, by what it did with them.",
      ["outcome"],
    ),
  };
}
