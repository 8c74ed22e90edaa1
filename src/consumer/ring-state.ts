/**
 * The last good ring of one source, and the validation of every update against it. An update is
 * rejected when ring.json is malformed or truncated (parseRing), or when it looks tampered with:
 * a key name already seen with a different seed, a ring issued before the one in force (its
 * `issuedAt`) or further ahead of this consumer's clock than the tolerated skew, every key older
 * than the active one (a replayed ring, the check left for rings without `issuedAt`: an older or
 * rolled-back controller's), or no key active at this consumer's clock. A rejection never replaces the last good
 * ring, and its reason never contains key bytes (at most a key id, see keyId).
 */
import { createHash } from "node:crypto";

import {
  activeKey,
  formatInstant,
  keyId,
  parseRing,
  RingFormatError,
  serializeRing,
  type Ring,
} from "../core/index.ts";

/** The outcome of one update. */
export type RingVerdict =
  | {
      accepted: true;
      ring: Ring;
      /** False when the update holds exactly the keys and instants of the last good ring. */
      changed: boolean;
    }
  | { accepted: false; reason: string };

export interface RingStateOptions {
  /**
   * How far ahead of this consumer's clock the first key of a ring may start (the clocks of the
   * controller and the consumer differ). A ring whose every key starts later is rejected.
   * Default 5 minutes.
   */
  maxClockSkewMs?: number;
}

/** How many key names are remembered (with a hash of their seed) to detect a changed seed. */
const rememberedKeys = 256;

function fingerprint(seed: Buffer): string {
  // A hash, not the seed: a gone key's seed does not linger in memory (forward secrecy).
  return createHash("sha256").update(seed).digest("base64");
}

export class RingState {
  readonly #maxClockSkewMs: number;
  #current: Ring | undefined;
  #serialized: string | undefined;
  /** key name (hex) -> fingerprint of its seed, oldest first, bounded. */
  readonly #seeds = new Map<string, string>();

  constructor(options: RingStateOptions = {}) {
    this.#maxClockSkewMs = options.maxClockSkewMs ?? 5 * 60_000;
  }

  /** The last good ring, if any. */
  get current(): Ring | undefined {
    return this.#current;
  }

  /**
   * Validates an update (ring.json bytes or text, or a Ring, which is checked the same way) at
   * `now` (epoch ms); on success it becomes the current ring.
   */
  accept(input: string | Buffer | Ring, now: number): RingVerdict {
    let ring: Ring;
    let serialized: string;
    try {
      ring =
        typeof input === "string" || Buffer.isBuffer(input)
          ? parseRing(input)
          : parseRing(serializeRing(input));
      serialized = serializeRing(ring);
    } catch (error) {
      // RingFormatError messages are fixed text; anything else is not repeated (it could quote input).
      return { accepted: false, reason: error instanceof RingFormatError ? error.message : "invalid ring" };
    }
    const reason = this.#tampering(ring, serialized, now);
    if (reason !== undefined) return { accepted: false, reason };
    const changed = serialized !== this.#serialized;
    this.#current = ring;
    this.#serialized = serialized;
    for (const key of ring.keys) this.#remember(key.name.toString("hex"), fingerprint(key.seed));
    return { accepted: true, ring, changed };
  }

  /** A ring issued before the one in force (docs/design.md#ringjson): a restored or re-applied copy. */
  #replayed(ring: Ring, serialized: string): string | undefined {
    const held = this.#current?.issuedAt;
    // Without both instants (a ring of an older or rolled-back controller) the later checks judge.
    if (held === undefined || ring.issuedAt === undefined) return undefined;
    if (ring.issuedAt < held) {
      return `replayed update: issued at ${formatInstant(ring.issuedAt)}, before the ring in force (${formatInstant(held)})`;
    }
    if (ring.issuedAt === held && serialized !== this.#serialized) {
      return `tampered update: other keys under the issuedAt of the ring in force (${formatInstant(held)})`;
    }
    return undefined;
  }

  #tampering(ring: Ring, serialized: string, now: number): string | undefined {
    for (const key of ring.keys) {
      const known = this.#seeds.get(key.name.toString("hex"));
      if (known !== undefined && known !== fingerprint(key.seed)) {
        return `tampered update: key ${keyId(key)} is already known with a different seed`;
      }
    }
    const replayed = this.#replayed(ring, serialized);
    if (replayed !== undefined) return replayed;
    const current = this.#current;
    if (current !== undefined) {
      const active = activeKey(current, now) ?? current.keys[0];
      const newest = Math.max(...ring.keys.map((key) => key.activeFrom));
      if (active !== undefined && newest < active.activeFrom) {
        return `tampered update: every key is older than the active key ${keyId(active)} (a replayed ring)`;
      }
    }
    if (activeKey(ring, now + this.#maxClockSkewMs) === undefined) {
      const first = Math.min(...ring.keys.map((key) => key.activeFrom));
      return `no usable active key: the first key starts in ${Math.round((first - now) / 1000)} s (a clock far behind, or a forged ring)`;
    }
    if (ring.issuedAt !== undefined && ring.issuedAt > now + this.#maxClockSkewMs) {
      return `no usable ring: issued at ${formatInstant(ring.issuedAt)}, ahead of this clock by more than ${Math.round(this.#maxClockSkewMs / 1000)} s`;
    }
    return undefined;
  }

  #remember(name: string, seed: string): void {
    if (this.#seeds.has(name)) return;
    this.#seeds.set(name, seed);
    if (this.#seeds.size > rememberedKeys) {
      const oldest = this.#seeds.keys().next();
      if (oldest.done !== true) this.#seeds.delete(oldest.value);
    }
  }
}
