/**
 * The naive rotation scheme many systems use, as the comparison of the rotation scenario: every
 * interval a new key is generated and encrypts at once; there is no pending stage, so each
 * replica switches to it the moment it receives it (after its own propagation delay) and drops
 * the previous key. It writes single-key rings (the key active from its creation, until
 * replaced) into each replica's directory, directory i receiving each new key skewMs[i] later;
 * a single-key replica of the library then switches on receipt, as such a system would.
 */
import { randomBytes } from "node:crypto";
import type { Key, Ring } from "../../src/core/index.ts";
import { writeRing } from "../../harness/fleet/fleet.ts";

/** A key that encrypts from `now` until it is replaced (its instants stay far in the future). */
function naiveKey(now: number, intervalMs: number): Key {
  const until = now + 1000 * intervalMs;
  return {
    name: randomBytes(16),
    seed: randomBytes(32),
    createdAt: now,
    activeFrom: now,
    activeUntil: until,
    expiresAt: until,
  };
}

export class NaiveFeeder {
  rotations = 0;
  /** When each new key was generated (and reached the replicas with no skew). */
  readonly rotationTimes: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #pending = new Set<NodeJS.Timeout>();
  readonly #dirs: readonly string[];
  readonly #skew: readonly number[];
  readonly #intervalMs: number;

  private constructor(dirs: readonly string[], skewMs: readonly number[], intervalMs: number) {
    this.#dirs = dirs;
    this.#skew = skewMs;
    this.#intervalMs = intervalMs;
  }

  /** Writes the first key everywhere at once, then a new one every interval. */
  static async start(
    dirs: readonly string[],
    skewMs: readonly number[],
    intervalMs: number,
  ): Promise<NaiveFeeder> {
    const feeder = new NaiveFeeder(dirs, skewMs, intervalMs);
    const first: Ring = { keys: [naiveKey(Date.now(), intervalMs)] };
    await Promise.all(dirs.map((d) => writeRing(d, first)));
    feeder.#timer = setInterval(() => {
      feeder.#rotate();
    }, intervalMs);
    return feeder;
  }

  #rotate(): void {
    const now = Date.now();
    const ring: Ring = { keys: [naiveKey(now, this.#intervalMs)] };
    this.rotations++;
    this.rotationTimes.push(now);
    this.#dirs.forEach((dir, i) => {
      const t = setTimeout(() => {
        this.#pending.delete(t);
        void writeRing(dir, ring);
      }, this.#skew[i] ?? 0);
      this.#pending.add(t);
    });
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const t of this.#pending) clearTimeout(t);
  }
}
