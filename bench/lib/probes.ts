/**
 * Ring probes (harness/fleet/ring-probe.ts) as child processes: each reports every ring its library
 * source accepts, and when. waitFor() resolves once every probe has accepted a given key.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { spawnBound } from "../../harness/spawn.ts";

interface ProbeMessage {
  ready?: boolean;
  error?: string;
  ring?: string;
  keys?: string[];
  at?: number;
}

class Probe {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** key id -> when the probe first accepted a ring holding it */
  readonly seen = new Map<string, number>();
  readonly #waiters = new Set<() => void>();

  constructor(id: string, args: readonly string[]) {
    this.child = spawnBound(process.execPath, ["harness/fleet/ring-probe.ts", "--id", id, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.ready = new Promise((resolve, reject) => {
      createInterface({ input: this.child.stdout! }).on("line", (line) => {
        let message: ProbeMessage;
        try {
          message = JSON.parse(line) as ProbeMessage;
        } catch {
          return; // a log line
        }
        if (message.ready === true) resolve();
        if (message.error !== undefined) reject(new Error(`probe ${id}: ${message.error}`));
        if (message.keys !== undefined && message.at !== undefined) {
          for (const key of message.keys) if (!this.seen.has(key)) this.seen.set(key, message.at);
          for (const wake of this.#waiters) wake();
        }
      });
      this.child.once("exit", (code) => {
        reject(new Error(`probe ${id} exited with ${code ?? "a signal"}`));
      });
    });
  }

  /** When this probe accepted a ring holding `key`; undefined after timeoutMs. */
  when(key: string, timeoutMs: number): Promise<number | undefined> {
    const known = this.seen.get(key);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => {
      const done = (value: number | undefined): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(value);
      };
      const check = (): void => {
        const at = this.seen.get(key);
        if (at !== undefined) done(at);
      };
      const timer = setTimeout(() => {
        done(undefined);
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }
}

export class ProbeSet {
  readonly probes: readonly Probe[];

  private constructor(probes: Probe[]) {
    this.probes = probes;
  }

  /** Starts one probe per argument list and waits until each has its first ring. */
  static async start(argsPerProbe: readonly (readonly string[])[]): Promise<ProbeSet> {
    const set = new ProbeSet(argsPerProbe.map((args, i) => new Probe(`p${i + 1}`, args)));
    try {
      await Promise.all(set.probes.map((p) => p.ready));
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** When each probe accepted a ring holding `key` (undefined: not within timeoutMs). */
  waitFor(key: string, timeoutMs: number): Promise<(number | undefined)[]> {
    return Promise.all(this.probes.map((p) => p.when(key, timeoutMs)));
  }

  pids(): number[] {
    return this.probes.flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.probes.map((p) => p.stop()));
  }
}
