import { formatInstant, RingFormatError, ringVersion, validateRingJson } from "./ring-schema.ts";

export { maxRingKeys, RingFormatError } from "./ring-schema.ts";

/** One session ticket key. Instants are epoch milliseconds (docs/design.md#keys-and-states). */
export interface Key {
  /** 16 random bytes, the first bytes of every rendering (servers find the key of a ticket by it). */
  name: Buffer;
  /** 32 random bytes, the HKDF input of every rendering. */
  seed: Buffer;
  createdAt: number;
  activeFrom: number;
  /** The next key's activeFrom. */
  activeUntil: number;
  /** activeUntil + retiredKeys x interval: from then on the key is gone. */
  expiresAt: number;
}

/** The keys of one policy, sorted by activeFrom. */
export interface Ring {
  readonly keys: readonly Key[];
  /**
   * When the controller computed the ring (epoch ms), strictly increasing from one ring of a
   * policy to the next: a consumer rejects a ring issued before the one it holds (a replay).
   * Absent in rings written by older controllers.
   */
  readonly issuedAt?: number | undefined;
}

export type KeyState = "pending" | "active" | "retired" | "gone";

/** The short id shown in status, events and logs: the first 8 hex characters of the name. */
export function keyId(key: Pick<Key, "name">): string {
  return key.name.subarray(0, 4).toString("hex");
}

/**
 * The key that encrypts at `now`: the one that started last (greatest activeFrom <= now). In a
 * well-formed ring that is the key with activeFrom <= now < activeUntil; when the controller was
 * down and no newer key exists, the last started key keeps encrypting and is never gone.
 * Undefined only when no key has started yet.
 */
export function activeKey(ring: Ring, now: number): Key | undefined {
  let active: Key | undefined;
  for (const key of ring.keys) {
    if (key.activeFrom <= now && (active === undefined || key.activeFrom > active.activeFrom)) active = key;
  }
  return active;
}

export function keyState(ring: Ring, key: Key, now: number): KeyState {
  const active = activeKey(ring, now);
  if (active !== undefined && active.name.equals(key.name)) return "active";
  if (now < key.activeFrom) return "pending";
  return now < key.expiresAt ? "retired" : "gone";
}

/** The keys that are not gone at `now` (the active key is always kept), in ring order. */
export function liveKeys(ring: Ring, now: number): Key[] {
  const active = activeKey(ring, now);
  return ring.keys.filter((key) => key === active || now < key.activeFrom || now < key.expiresAt);
}

/** ring.json exactly as docs/design.md#ringjson describes it, keys ordered by activeFrom. */
export function serializeRing(ring: Ring): string {
  const keys = [...ring.keys]
    .sort((a, b) => a.activeFrom - b.activeFrom)
    .map((key) => ({
      name: key.name.toString("hex"),
      seed: key.seed.toString("base64"),
      createdAt: formatInstant(key.createdAt),
      activeFrom: formatInstant(key.activeFrom),
      activeUntil: formatInstant(key.activeUntil),
      expiresAt: formatInstant(key.expiresAt),
    }));
  const issuedAt = ring.issuedAt === undefined ? {} : { issuedAt: formatInstant(ring.issuedAt) };
  return JSON.stringify({ version: ringVersion, ...issuedAt, keys });
}

const maxRingJsonBytes = 1 << 20;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses and validates ring.json. Throws a RingFormatError whose message names the problem (e.g.
 * "keys[2].seed: expected base64 of 32 bytes") and never contains any part of the input.
 */
export function parseRing(text: string | Buffer): Ring {
  if (text.length > maxRingJsonBytes) throw new RingFormatError("invalid ring.json: larger than 1 MiB");
  let json: unknown;
  try {
    json = JSON.parse(typeof text === "string" ? text : utf8.decode(text));
  } catch {
    // The JSON.parse message quotes the input: it is deliberately dropped, with no cause attached.
    throw new RingFormatError("invalid ring.json: not valid UTF-8 JSON");
  }
  const { keys, issuedAt } = validateRingJson(json);
  return issuedAt === undefined ? { keys } : { keys, issuedAt };
}

/**
 * The next instant after `now` at which a key changes state: the next activeFrom of a pending key
 * or the next expiresAt of a key that is not the active one. Undefined when no change is coming.
 */
export function nextStateChange(ring: Ring, now: number): number | undefined {
  const active = activeKey(ring, now);
  let next = Number.POSITIVE_INFINITY;
  for (const key of ring.keys) {
    if (key.activeFrom > now) next = Math.min(next, key.activeFrom);
    if (key !== active && key.expiresAt > now) next = Math.min(next, key.expiresAt);
  }
  return Number.isFinite(next) ? next : undefined;
}
