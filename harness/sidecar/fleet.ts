/**
 * A fleet of real servers (nginx, HAProxy) behind a round-robin balancer, each replica with its
 * own sidecar process (`--server <server> --out <its key dir> ...` plus `sidecarArgs(i)`, e.g. the
 * source), or, with keys "per-replica", each with its own random keys (the baseline). As in a pod
 * with a native sidecar: the sidecar starts first and writes the key files, then the server
 * starts from them, then the sidecar's first update is confirmed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBalancer, type Balancer } from "../tls/balancer.ts";
import { startSidecar, waitUntilReady, type LogLine, type SidecarProcess } from "./process.ts";

/** Where each replica's keys come from. */
export type FleetKeys = "per-replica" | { sidecarArgs: (index: number) => string[] };

export interface FleetReplica {
  id: string;
  /** its server's TLS port */
  port: number;
  /** the key directory the server reads (the sidecar's --out) */
  keyDir: string;
  /** its sidecar, unless the replica has its own random keys */
  sidecar?: SidecarProcess;
}

export interface SidecarFleet<R extends FleetReplica> {
  replicas: R[];
  balancer: Balancer;
  stop(): Promise<void>;
}

/** One replica's server, prepared (its directories) but not started. */
export interface ReplicaPlan<R extends FleetReplica> {
  /** the sidecar's flags that say where it finds the server (its pid file, its admin socket) */
  sidecarFlags: string[];
  /** writes the replica's own random keys into its key directory (the baseline) */
  randomKeys(): Promise<void>;
  /** starts the server on the keys in its key directory */
  start(sidecar: SidecarProcess | undefined): Promise<R>;
  /** the sidecar's log line that confirms the server took its first keys */
  applied(line: LogLine): boolean;
  /** releases what prepare() made when the replica never started (e.g. a backend) */
  discard?(): Promise<void>;
}

export async function startSidecarFleet<R extends FleetReplica>(options: {
  /** the sidecar's --server */
  server: "nginx" | "haproxy";
  /** the replicas' ids: <idPrefix>1, <idPrefix>2, ... */
  idPrefix: string;
  count: number;
  keys: FleetKeys;
  prepare(id: string, keyDir: string): Promise<ReplicaPlan<R>>;
  /** stops what the replica runs besides its sidecar */
  stopReplica(replica: R): Promise<void>[];
}): Promise<SidecarFleet<R>> {
  const replicas: R[] = [];
  /** what a replica that never started leaves behind: its sidecar, what prepare() made */
  const leftovers: (() => Promise<void>)[] = [];
  const keyDirs: string[] = [];
  let balancer: Balancer | undefined;
  const stop = async (): Promise<void> => {
    await balancer?.close();
    await Promise.all([
      ...replicas.flatMap((r) => [...options.stopReplica(r), r.sidecar?.stop() ?? Promise.resolve()]),
      ...leftovers.map((release) => release()),
    ]);
    await Promise.all(keyDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  };
  try {
    // Every replica has finished starting (or failed) before a failure stops the others.
    const starts = await Promise.allSettled(
      Array.from({ length: options.count }, async (_, i) => {
        const id = `${options.idPrefix}${i + 1}`;
        const keyDir = await mkdtemp(join(tmpdir(), `tko-keys-${id}-`));
        keyDirs.push(keyDir);
        const plan = await options.prepare(id, keyDir);
        let sidecar: SidecarProcess | undefined;
        let replica: R | undefined;
        try {
          if (options.keys === "per-replica") {
            await plan.randomKeys();
          } else {
            sidecar = await startSidecar(id, [
              `--server=${options.server}`,
              `--out=${keyDir}`,
              ...plan.sidecarFlags,
              "--max-backoff=2s",
              ...options.keys.sidecarArgs(i),
            ]);
            await waitUntilReady(sidecar);
          }
          replica = await plan.start(sidecar);
        } finally {
          if (replica === undefined) {
            const orphan = sidecar;
            leftovers.push(async () => {
              await orphan?.stop();
              await plan.discard?.();
            });
          }
        }
        replicas.push(replica);
        await sidecar?.waitForLog((l) => plan.applied(l));
      }),
    );
    const failed = starts.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    replicas.sort((a, b) => a.id.localeCompare(b.id));
    balancer = await startBalancer(replicas.map((r) => r.port));
    return { replicas, balancer, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
