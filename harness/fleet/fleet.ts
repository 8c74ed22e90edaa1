/**
 * A fleet of replica processes (harness/fleet/replica.ts) behind a round-robin balancer, and a feeder
 * that plays a key schedule into each replica's mounted-Secret directory with a per-replica
 * delay, as kubelet volume updates would arrive at different moments.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { spawnBound } from "../spawn.ts";
import {
  nextRing,
  ringDataKey,
  serializeRing,
  type Key,
  type Ring,
  type ScheduleSpec,
} from "../../src/core/index.ts";
import { startBalancer, type Balancer } from "../tls/balancer.ts";
import type { ServerCert } from "../tls/certs.ts";

export type ReplicaMode = "router" | "single" | "per-replica";

export interface Replica {
  id: string;
  port: number;
  child: ChildProcess;
  directory?: string;
}

export interface Fleet {
  replicas: Replica[];
  balancer: Balancer;
  stop(): Promise<void>;
}

export interface FleetOptions {
  replicas: number;
  mode: ReplicaMode;
  cert: ServerCert;
  /** where each replica reads its ring: its own directory (fed by a Feeder), or the API */
  source: { directories: string[] } | { kubernetes: string; kubeconfig: string } | "none";
  env?: NodeJS.ProcessEnv;
}

function startReplica(
  id: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnBound(process.execPath, ["harness/fleet/replica.ts", "--id", id, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; port?: number; error?: string };
        if (msg.ready === true) resolve({ child, port: msg.port ?? 0 });
        if (msg.error !== undefined) reject(new Error(`replica ${id}: ${msg.error}`));
      } catch {
        // a log line
      }
    });
    child.once("exit", (code) => reject(new Error(`replica ${id} exited with ${code ?? "signal"}`)));
  });
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const replicas: Replica[] = [];
  const stop = async (): Promise<void> => {
    await balancer?.close();
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.child.exitCode !== null || r.child.signalCode !== null) {
              resolve();
              return;
            }
            r.child.once("exit", () => resolve());
            r.child.kill("SIGTERM");
          }),
      ),
    );
  };
  let balancer: Balancer | undefined;
  try {
    const started = await Promise.all(
      Array.from({ length: options.replicas }, (_, i) => {
        const id = `r${i + 1}`;
        const args = ["--mode", options.mode, "--cert", options.cert.certPath, "--key", options.cert.keyPath];
        const src = options.source;
        let directory: string | undefined;
        if (src !== "none" && "directories" in src) {
          directory = src.directories[i];
          args.push("--directory", directory ?? "");
        } else if (src !== "none") {
          args.push("--kubernetes", src.kubernetes, "--kubeconfig", src.kubeconfig);
        }
        return startReplica(id, args, options.env).then(({ child, port }) => {
          const replica: Replica = { id, port, child, ...(directory ? { directory } : {}) };
          replicas.push(replica);
          return replica;
        });
      }),
    );
    balancer = await startBalancer(started.map((r) => r.port));
    return { replicas: started, balancer, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The last write queued per directory: writes to one directory land in call order. */
const writes = new Map<string, Promise<void>>();

/**
 * Writes ring.json into a directory atomically (temp file + rename), as a Secret update lands.
 * Writes to one directory land in the order they were called, as kubelet's updates of one volume
 * do: two writes in flight at once (a feeder's expiry and rotation a millisecond apart) would
 * otherwise race, and the older ring could land last.
 */
export function writeRing(directory: string, ring: Ring): Promise<void> {
  const text = serializeRing(ring);
  const write = async (): Promise<void> => {
    const tmp = join(directory, `.${ringDataKey}.${randomBytes(4).toString("hex")}`);
    await writeFile(tmp, text);
    await rename(tmp, join(directory, ringDataKey));
  };
  const queued = (writes.get(directory) ?? Promise.resolve()).then(write, write);
  writes.set(directory, queued);
  const forget = (): void => {
    if (writes.get(directory) === queued) writes.delete(directory);
  };
  void queued.then(forget, forget);
  return queued;
}

export async function ringDirectories(count: number): Promise<string[]> {
  const base = await mkdtemp(join(tmpdir(), "tko-fleet-"));
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const dir = join(base, `r${i + 1}`);
      await mkdir(dir);
      return dir;
    }),
  );
}

/**
 * Plays the key schedule (the pure core's nextRing, run at each of its wake-ups as the
 * controller would) into every directory, directory i receiving each new ring skewMs[i] later.
 */
export class Feeder {
  ring: Ring;
  rotations = 0;
  /** every key the schedule published, by name (hex): a KeyBook (harness/keys.ts) */
  readonly keys = new Map<string, Key>();
  readonly rotationTimes: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #pending = new Set<NodeJS.Timeout>();
  readonly #dirs: string[];
  readonly #skew: number[];
  readonly #spec: ScheduleSpec;

  private constructor(dirs: string[], skewMs: number[], spec: ScheduleSpec, ring: Ring) {
    this.#dirs = dirs;
    this.#skew = skewMs;
    this.#spec = spec;
    this.ring = ring;
  }

  static async start(dirs: string[], skewMs: number[], spec: ScheduleSpec): Promise<Feeder> {
    const first = nextRing({ previous: undefined, spec, now: Date.now(), random: randomBytes });
    const feeder = new Feeder(dirs, skewMs, spec, first.ring);
    feeder.#remember(first.ring);
    await Promise.all(dirs.map((d) => writeRing(d, first.ring)));
    feeder.#schedule(first.nextWake);
    return feeder;
  }

  #schedule(at: number): void {
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - Date.now()));
  }

  #tick(): void {
    const result = nextRing({ previous: this.ring, spec: this.#spec, now: Date.now(), random: randomBytes });
    this.ring = result.ring;
    this.#remember(result.ring);
    if (result.change === "rotated") {
      this.rotations++;
      this.rotationTimes.push(Date.now());
    }
    if (result.change !== "none") {
      this.#dirs.forEach((dir, i) => {
        const t = setTimeout(() => {
          this.#pending.delete(t);
          void writeRing(dir, result.ring);
        }, this.#skew[i] ?? 0);
        this.#pending.add(t);
      });
    }
    this.#schedule(result.nextWake);
  }

  #remember(ring: Ring): void {
    for (const key of ring.keys) this.keys.set(key.name.toString("hex"), key);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    for (const t of this.#pending) clearTimeout(t);
  }
}
