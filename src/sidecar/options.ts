/** The flags of `ticket-key-operator sidecar` (each with an environment fallback), validated. */
import { parseArgs } from "node:util";

import { ciphers, formats, parseDuration, type Cipher, type Format } from "../core/index.ts";
import { parseRuntimeAddress } from "./haproxy-runtime.ts";
import { serverKinds, type ServerKind } from "./servers/server.ts";

export const sidecarUsage = `Usage: ticket-key-operator sidecar [flags]

Runs beside a TLS server in its pod. Gets a TicketKeyPolicy's key ring like the library does (a
watch of the Secret through the API, or the mounted Secret), and at each key state change of the
schedule and each new ring writes the server's rendering into a shared in-memory volume
(atomically, a constant number of keys) and tells the server: nginx by SIGHUP to its master
(the reload is confirmed), HAProxy through its runtime API (set ssl tls-key, no reload), Envoy by
its own watch of the SDS file, anything else with --exec. Failures are retried with backoff;
the previous keys stay in force and the sidecar keeps running.

Flags (environment variable in brackets):
 Source (one of):
  --secret [NS/]NAME          watch this Secret through the API (needs get, list, watch on it only);
                              NS defaults to the pod's namespace [TICKET_KEYS_SECRET]
  --directory PATH            follow a mounted Secret directory (its ring.json) [TICKET_KEYS_DIRECTORY]
  --kubeconfig PATH           kubeconfig for --secret; default in-cluster or $KUBECONFIG
 Server:
  --server KIND               nginx | haproxy | envoy | files [TICKET_KEYS_SERVER]
  --out DIR                   where the renderings go: a volume shared with the server, an emptyDir
                              with medium: Memory [TICKET_KEYS_OUT]
  --cipher AES128|AES256      nginx and HAProxy key size, 48 or 80 bytes; default AES256 [TICKET_KEYS_CIPHER]
  --slots N                   nginx key files nginx-0.key .. nginx-<N-1>.key (constant); default the
                              ring's key count, retiredKeys + 2 [TICKET_KEYS_SLOTS]
  --formats a,b               --server files: renderings to write (${formats.join(" ")}); default all
                              [TICKET_KEYS_FORMATS]
  --file-mode MODE            0600 (default) or 0640 (readable by the pod's fsGroup) [TICKET_KEYS_FILE_MODE]
 nginx (the pod needs shareProcessNamespace: true; run the sidecar as nginx's user):
  --nginx-pid-file PATH       the master's pid file, on a volume shared with nginx [NGINX_PID_FILE]
  --nginx-process-name NAME   or find "NAME: master process" in /proc; default nginx [NGINX_PROCESS_NAME]
  --reload-timeout D          how long to wait for the new workers after SIGHUP; default 10s
 HAProxy:
  --haproxy-socket ADDR       runtime API: stats socket path (level admin) or host:port [HAPROXY_SOCKET]
  --haproxy-keys-ref REF      the tls-ticket-keys file as HAProxy names it (show tls-keys), or #ID;
                              default the only one HAProxy loaded [HAPROXY_KEYS_REF]
 Any server:
  --exec CMD                  run with /bin/sh -c after each change of the files [TICKET_KEYS_EXEC]
  --exec-timeout D            default 30s
  --max-backoff D             longest wait between retries of a failed update; default 30s
  --resync-interval D         re-apply the current keys this often (0 = never); default 60s
  --startup-grace D           a server not started yet is waited for, not a failure; default 60s
  --metrics-address ADDR      /metrics listen address; default :9402 [METRICS_ADDRESS]
  --health-address ADDR       /healthz and /readyz listen address; default :9403 [HEALTH_ADDRESS]
  --log-level LEVEL           trace|debug|info|warn|error; default info [LOG_LEVEL]

/readyz answers 200 once the renderings are written (use it as the startup probe of a native
sidecar, so that the server starts with its keys); /healthz 200 while the process runs.
`;

export interface SidecarConfig {
  /** The Secret's namespace is undefined when --secret gave only a name (the pod's namespace). */
  source:
    { secret: { namespace: string | undefined; name: string }; kubeconfig?: string } | { directory: string };
  server: ServerKind;
  out: string;
  cipher: Cipher;
  slots: number | undefined;
  formats: Format[];
  fileMode: number;
  nginx: { pidFile: string } | { processName: string };
  reloadTimeoutMs: number;
  haproxy: { socket: string; ref: string | undefined } | undefined;
  exec: { command: string; timeoutMs: number } | undefined;
  maxBackoffMs: number;
  resyncMs: number;
  startupGraceMs: number;
  metricsAddress: string;
  healthAddress: string;
  logLevel: string;
}

export type ParsedFlags = { help: true } | { help: false; config: SidecarConfig };

const env = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
};

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`${flag} must be a whole number from 1 to 64, got "${value}"`);
  return n;
}

/** NS/NAME, or NAME (the namespace is then the pod's, found at start: see resolveNamespace). */
function secretRef(value: string): { namespace: string | undefined; name: string } {
  const parts = value.split("/");
  const [first = "", second] = parts;
  const name = second ?? first;
  if (parts.length > 2 || name === "" || (second !== undefined && first === "")) {
    throw new Error(`--secret must be NAMESPACE/NAME, or NAME in a pod, got "${value}"`);
  }
  return { namespace: second === undefined ? undefined : first, name };
}

/** Parses and validates the flags; throws an Error naming the bad flag. */
export function parseSidecarFlags(argv: string[]): ParsedFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      secret: { type: "string", default: env("TICKET_KEYS_SECRET") },
      directory: { type: "string", default: env("TICKET_KEYS_DIRECTORY") },
      kubeconfig: { type: "string" },
      server: { type: "string", default: env("TICKET_KEYS_SERVER") },
      out: { type: "string", default: env("TICKET_KEYS_OUT") },
      cipher: { type: "string", default: env("TICKET_KEYS_CIPHER") ?? "AES256" },
      slots: { type: "string", default: env("TICKET_KEYS_SLOTS") },
      formats: { type: "string", default: env("TICKET_KEYS_FORMATS") ?? formats.join(",") },
      "file-mode": { type: "string", default: env("TICKET_KEYS_FILE_MODE") ?? "0600" },
      "nginx-pid-file": { type: "string", default: env("NGINX_PID_FILE") },
      "nginx-process-name": { type: "string", default: env("NGINX_PROCESS_NAME") },
      "reload-timeout": { type: "string", default: "10s" },
      "haproxy-socket": { type: "string", default: env("HAPROXY_SOCKET") },
      "haproxy-keys-ref": { type: "string", default: env("HAPROXY_KEYS_REF") },
      exec: { type: "string", default: env("TICKET_KEYS_EXEC") },
      "exec-timeout": { type: "string", default: "30s" },
      "max-backoff": { type: "string", default: "30s" },
      "resync-interval": { type: "string", default: "60s" },
      "startup-grace": { type: "string", default: "60s" },
      "metrics-address": { type: "string", default: env("METRICS_ADDRESS") ?? ":9402" },
      "health-address": { type: "string", default: env("HEALTH_ADDRESS") ?? ":9403" },
      "log-level": { type: "string", default: env("LOG_LEVEL") ?? "info" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) return { help: true };

  if ((values.secret === undefined) === (values.directory === undefined)) {
    throw new Error("give exactly one source: --secret [NS/]NAME or --directory PATH");
  }
  const source: SidecarConfig["source"] =
    values.secret !== undefined
      ? {
          secret: secretRef(values.secret),
          ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
        }
      : { directory: values.directory ?? "" };
  if (values.server === undefined) throw new Error(`--server is required: ${serverKinds.join(", ")}`);
  const server = oneOf("--server", values.server, serverKinds);
  if (values.out === undefined || values.out === "") throw new Error("--out DIR is required");
  const cipher = oneOf("--cipher", values.cipher, ciphers);
  const slots = values.slots === undefined ? undefined : positiveInteger("--slots", values.slots);
  const chosen = values.formats
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "")
    .map((f) => oneOf("--formats", f, formats));
  if (chosen.length === 0) throw new Error("--formats needs at least one format");
  const fileMode = Number.parseInt(values["file-mode"], 8);
  if (![0o600, 0o640, 0o400, 0o440].includes(fileMode) || !/^0?[46][04]0$/.test(values["file-mode"])) {
    throw new Error(`--file-mode must be 0600 or 0640 (or 0400, 0440), got "${values["file-mode"]}"`);
  }
  if (values["nginx-pid-file"] !== undefined && values["nginx-process-name"] !== undefined) {
    throw new Error("give --nginx-pid-file or --nginx-process-name, not both");
  }
  const nginx: SidecarConfig["nginx"] =
    values["nginx-pid-file"] !== undefined
      ? { pidFile: values["nginx-pid-file"] }
      : { processName: values["nginx-process-name"] ?? "nginx" };
  let haproxy: SidecarConfig["haproxy"];
  if (server === "haproxy") {
    const socket = values["haproxy-socket"];
    if (socket === undefined)
      throw new Error("--server haproxy needs --haproxy-socket (the admin stats socket)");
    parseRuntimeAddress(socket);
    haproxy = { socket, ref: values["haproxy-keys-ref"] };
  }
  const exec =
    values.exec === undefined
      ? undefined
      : { command: values.exec, timeoutMs: parseDuration(values["exec-timeout"]) };
  const durations = {
    reloadTimeoutMs: parseDuration(values["reload-timeout"]),
    maxBackoffMs: parseDuration(values["max-backoff"]),
    resyncMs: parseDuration(values["resync-interval"]),
    startupGraceMs: parseDuration(values["startup-grace"]),
  };
  if (
    durations.reloadTimeoutMs <= 0 ||
    durations.maxBackoffMs <= 0 ||
    (exec !== undefined && exec.timeoutMs <= 0)
  ) {
    throw new Error("--reload-timeout, --max-backoff and --exec-timeout must be longer than 0s");
  }
  return {
    help: false,
    config: {
      source,
      server,
      out: values.out,
      cipher,
      slots,
      formats: chosen,
      fileMode,
      nginx,
      haproxy,
      exec,
      ...durations,
      metricsAddress: values["metrics-address"],
      healthAddress: values["health-address"],
      logLevel: values["log-level"],
    },
  };
}
