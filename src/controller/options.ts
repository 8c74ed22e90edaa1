/** The flags of `ticket-key-operator controller` (some with an environment fallback), validated. */
import { parseArgs } from "node:util";

import { parseDuration } from "../core/duration.ts";
import { parseAddress } from "../observability/http.ts";

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

export const logLevels = ["trace", "debug", "info", "warn", "error"] as const;

export interface ControllerConfig {
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  kubeconfig: string | undefined;
  metricsAddress: string;
  healthAddress: string;
  leaderElection: {
    enabled: boolean;
    /** undefined: the pod's namespace, found at start. */
    namespace: string | undefined;
    id: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  workers: number;
  logLevel: (typeof logLevels)[number];
}

export type ParsedControllerFlags = { help: true } | { help: false; config: ControllerConfig };

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

function duration(flag: string, value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`, { cause: err });
  }
  if (ms <= 0) throw new Error(`${flag} must be longer than 0s, got "${value}"`);
  return ms;
}

function address(flag: string, value: string): string {
  try {
    parseAddress(value);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`, { cause: err });
  }
  return value;
}

/**
 * Parses and validates the flags (an empty environment variable counts as unset); throws an
 * Error naming the bad flag. The Lease's default namespace (the pod's) is left to the caller.
 */
export function parseControllerFlags(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): ParsedControllerFlags {
  const fromEnv = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === "" ? undefined : value;
  };
  const { values } = parseArgs({
    args: argv,
    options: {
      namespaces: { type: "string", default: fromEnv("WATCH_NAMESPACES") ?? "" },
      kubeconfig: { type: "string" },
      "metrics-address": { type: "string", default: fromEnv("METRICS_ADDRESS") ?? ":8080" },
      "health-address": { type: "string", default: fromEnv("HEALTH_ADDRESS") ?? ":8081" },
      "leader-elect": { type: "string", default: fromEnv("LEADER_ELECT") ?? "true" },
      "leader-election-namespace": { type: "string" },
      "leader-election-id": { type: "string", default: "ticket-key-operator" },
      "lease-duration": { type: "string", default: "15s" },
      "renew-deadline": { type: "string", default: "10s" },
      "retry-period": { type: "string", default: "2s" },
      workers: { type: "string", default: "4" },
      "log-level": { type: "string", default: fromEnv("LOG_LEVEL") ?? "info" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) return { help: true };

  const enabled = oneOf("--leader-elect", values["leader-elect"], ["true", "false"]) === "true";
  const leaseDurationMs = duration("--lease-duration", values["lease-duration"]);
  const renewDeadlineMs = duration("--renew-deadline", values["renew-deadline"]);
  const retryPeriodMs = duration("--retry-period", values["retry-period"]);
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
    throw new Error("leader election needs --retry-period < --renew-deadline < --lease-duration");
  }
  const id = values["leader-election-id"];
  if (id === "") throw new Error("--leader-election-id must not be empty");
  const workers = Number(values.workers);
  if (!/^[0-9]+$/.test(values.workers) || !Number.isSafeInteger(workers) || workers < 1) {
    throw new Error(`--workers must be a positive integer, got "${values.workers}"`);
  }
  const namespaceFlag = values["leader-election-namespace"];
  return {
    help: false,
    config: {
      namespaces: values.namespaces
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
      kubeconfig: values.kubeconfig === "" ? undefined : values.kubeconfig,
      metricsAddress: address("--metrics-address", values["metrics-address"]),
      healthAddress: address("--health-address", values["health-address"]),
      leaderElection: {
        enabled,
        namespace: namespaceFlag === "" ? undefined : namespaceFlag,
        id,
        leaseDurationMs,
        renewDeadlineMs,
        retryPeriodMs,
      },
      workers,
      logLevel: oneOf("--log-level", values["log-level"], logLevels),
    },
  };
}
