/**
 * The TLS servers the fleet scenarios (resumption, rotation, CPU) benchmark, one entry per
 * server. A scenario runs every mode of every registered server side by side in the same run,
 * so adding a server (nginx or HAProxy with the sidecar) adds its rows to those scenarios with
 * no other change: write a `ServerKind` whose `start` brings up `replicas` instances behind a
 * round-robin balancer, each following the ring.json that the scenario writes into its
 * directory, and append it to `servers`.
 */
import type { Balancer } from "../../harness/tls/balancer.ts";
import type { ServerCert } from "../../harness/tls/certs.ts";
import { runClient, type Handshake, type TlsVersion } from "../../harness/clients/client.ts";
import { startFleet, type ReplicaMode } from "../../harness/fleet/fleet.ts";
import { startHaproxyFleet } from "../../harness/servers/haproxy.ts";
import { httpRequest, startNginxFleet } from "../../harness/servers/nginx.ts";
import type { FleetKeys, FleetReplica, SidecarFleet } from "../../harness/sidecar/fleet.ts";
import { processTree } from "./proc.ts";

/** Whether a mode's replicas share keys (from the ring) or each hold their own (the baseline). */
export type KeySharing = "per-replica" | "shared";

export interface ServerMode {
  /** The row label, e.g. "router", "single-key", "sidecar". */
  name: string;
  keys: KeySharing;
}

export interface ServerFleetOptions {
  replicas: number;
  /** One of the server's modes, by name. */
  mode: string;
  cert: ServerCert;
  /**
   * One directory per replica where the scenario writes ring.json (atomically, as a mounted
   * Secret's content changes). A shared mode follows it; a per-replica mode ignores it.
   */
  directories: readonly string[];
}

export interface ServerReplica {
  id: string;
  port: number;
  /** The processes whose CPU time counts for this replica (read at each measurement). */
  pids(): number[];
}

export interface ServerFleet {
  /** Round-robin balancer in front of the replicas: clients connect to balancer.port. */
  balancer: Balancer;
  replicas: readonly ServerReplica[];
  stop(): Promise<void>;
}

export interface ClientLoopOptions {
  /** The balancer's port. */
  port: number;
  cert: ServerCert;
  version: TlsVersion;
  /** Stop when this returns true (checked between connections). */
  until: () => boolean;
  /** Mean pause between connections, ms (randomised; 0: back to back). */
  pauseMs: number;
  onHandshake: (h: Handshake) => void;
}

/**
 * One resumption client's loop (as harness/clients/client.ts runClient): reconnects until `until()`,
 * offering the newest session it holds, recording each handshake (resumed, replica, key names).
 */
export type ClientLoop = (options: ClientLoopOptions) => Promise<Handshake[]>;

/** Node's TLS client, sending `request` after each handshake (none: the server replies at once). */
const nodeClientSending =
  (request?: string): ClientLoop =>
  (o) =>
    runClient({
      port: o.port,
      ca: o.cert.ca,
      version: o.version,
      until: o.until,
      pauseMs: o.pauseMs,
      onHandshake: o.onHandshake,
      ...(request === undefined ? {} : { request }),
    });

/** Node's TLS client: the server writes its reply and closes, the client sends nothing. */
export const nodeClient: ClientLoop = nodeClientSending();

export interface ServerKind {
  /** The server's name in every table ("node", "nginx", "haproxy"). */
  name: string;
  /** Its modes; exactly one has keys "per-replica" (the baseline). */
  modes: readonly ServerMode[];
  /**
   * The mode that runs the rotation scenario's naive scheme (a new key encrypts the moment it is
   * received, no pending stage): a mode holding one key that follows ring.json. Omit to skip.
   */
  naiveMode?: string;
  /**
   * The clients' loop for this server (default nodeClient). A server that waits for a request
   * (nginx speaks HTTP) gives one that sends it, e.g. harness/clients/openssl-client.ts runOpensslClient
   * with `request: httpRequest`.
   */
  client?: ClientLoop;
  /** The fleet scenarios the server joins; default all. */
  scenarios?: readonly FleetScenario[];
  start(options: ServerFleetOptions): Promise<ServerFleet>;
}

export type FleetScenario = "resumption" | "rotation" | "cpu";

/** Node.js replicas (harness/fleet/replica.ts) with the library, in each of its modes. */
const nodeModes: Record<string, ReplicaMode> = {
  "per-replica": "per-replica",
  "single-key": "single",
  router: "router",
};

export const nodeServer: ServerKind = {
  name: "node",
  modes: [
    { name: "per-replica", keys: "per-replica" },
    { name: "single-key", keys: "shared" },
    { name: "router", keys: "shared" },
  ],
  naiveMode: "single-key",
  async start({ replicas, mode, cert, directories }) {
    const replicaMode = nodeModes[mode];
    if (replicaMode === undefined) throw new Error(`node has no mode ${mode}`);
    const fleet = await startFleet({
      replicas,
      mode: replicaMode,
      cert,
      source: replicaMode === "per-replica" ? "none" : { directories: [...directories] },
    });
    return {
      balancer: fleet.balancer,
      replicas: fleet.replicas.map((r) => ({
        id: r.id,
        port: r.port,
        pids: () => (r.child.pid === undefined ? [] : [r.child.pid]),
      })),
      stop: () => fleet.stop(),
    };
  },
};

/**
 * A server run by the sidecar container (`ticket-key-operator sidecar`): "sidecar" follows each
 * replica's ring directory (--directory) and applies it to the server; "per-replica" gives each
 * replica its own random keys. CPU counts the server's processes (master and workers), not the
 * sidecar's, which does not work per connection.
 */
function sidecarServer<R extends FleetReplica>(
  name: string,
  start: (options: { cert: ServerCert; count: number; keys: FleetKeys }) => Promise<SidecarFleet<R>>,
  pidOf: (replica: R) => number | undefined,
  request?: string,
): ServerKind {
  return {
    name,
    modes: [
      { name: "per-replica", keys: "per-replica" },
      { name: "sidecar", keys: "shared" },
    ],
    client: nodeClientSending(request),
    scenarios: ["resumption"],
    async start({ replicas, mode, cert, directories }) {
      const fleet = await start({
        cert,
        count: replicas,
        keys:
          mode === "per-replica"
            ? "per-replica"
            : { sidecarArgs: (i) => [`--directory=${directories[i] ?? ""}`] },
      });
      return {
        balancer: fleet.balancer,
        replicas: fleet.replicas.map((r) => ({
          id: r.id,
          port: r.port,
          pids: () => processTree(pidOf(r) ?? 0),
        })),
        stop: () => fleet.stop(),
      };
    },
  };
}

/** nginx with the sidecar (SIGHUP reloads); it speaks HTTP, so the clients send a request. */
export const nginxServer = sidecarServer("nginx", startNginxFleet, (r) => r.nginx.pid, httpRequest);

/** HAProxy with the sidecar (runtime API, no reload), in TCP mode in front of a reply backend. */
export const haproxyServer = sidecarServer("haproxy", startHaproxyFleet, (r) => r.haproxy.child.pid);

/** Every server the fleet scenarios run (each in the scenarios it names). */
const servers: readonly ServerKind[] = [nodeServer, nginxServer, haproxyServer];

/** The servers that join a scenario. */
export function serversIn(scenario: FleetScenario): ServerKind[] {
  return servers.filter((server) => server.scenarios === undefined || server.scenarios.includes(scenario));
}

/** The baseline mode of a server. */
export function baselineMode(server: ServerKind): ServerMode {
  const mode = server.modes.find((m) => m.keys === "per-replica");
  if (mode === undefined) throw new Error(`${server.name} has no per-replica mode`);
  return mode;
}

/** "node router". */
export const variantName = (server: ServerKind, mode: string): string => `${server.name} ${mode}`;
