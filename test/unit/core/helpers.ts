import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import type { Key, Random, Ring } from "../../../src/core/index.ts";

export const second = 1000;
export const minute = 60 * second;
export const hour = 60 * minute;

/** A deterministic random source: SHA-256 blocks of `${seed}/${counter}`. */
export function seededRandom(seed: string | number): Random {
  let counter = 0;
  return (bytes) => {
    const blocks: Buffer[] = [];
    for (let length = 0; length < bytes; length += 32) {
      blocks.push(createHash("sha256").update(`${seed}/${counter++}`).digest());
    }
    return Buffer.concat(blocks).subarray(0, bytes);
  };
}

/** Records what a random source returned, to replay the same bytes later. */
export function recording(random: Random): { random: Random; drawn: Buffer[] } {
  const drawn: Buffer[] = [];
  return {
    drawn,
    random: (bytes) => {
      const out = random(bytes);
      drawn.push(Buffer.from(out));
      return out;
    },
  };
}

export function replay(drawn: readonly Buffer[]): Random {
  let index = 0;
  return (bytes) => {
    const next = drawn[index++];
    assert.ok(next !== undefined && next.length === bytes, "replay asked for different random bytes");
    return Buffer.from(next);
  };
}

/** RFC 5869 HKDF-SHA256 written out with HMAC, independent of crypto.hkdfSync. */
export function manualHkdf(ikm: Buffer, salt: Buffer, info: string | Buffer, length: number): Buffer {
  const prk = createHmac("sha256", salt).update(ikm).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac("sha256", prk)
      .update(Buffer.concat([previous, Buffer.from(info), Buffer.from([i])]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

export const hex = (key: Key): string => key.name.toString("hex");

/** A key with fixed bytes, for hand-written rings. */
export function makeKey(index: number, activeFrom: number, activeUntil: number, expiresAt: number): Key {
  return {
    name: Buffer.alloc(16, index + 1),
    seed: Buffer.alloc(32, 0x80 + index),
    createdAt: activeFrom,
    activeFrom,
    activeUntil,
    expiresAt,
  };
}

/** Structural invariants of every ring the schedule writes. */
export function assertWellFormed(ring: Ring): void {
  const keys = ring.keys;
  assert.ok(keys.length >= 1, "a ring has at least one key");
  const names = new Set(keys.map(hex));
  assert.equal(names.size, keys.length, "key names are unique");
  keys.forEach((key, i) => {
    assert.equal(key.name.length, 16);
    assert.equal(key.seed.length, 32);
    assert.ok(key.activeFrom < key.activeUntil, `keys[${i}] activeFrom < activeUntil`);
    assert.ok(key.activeUntil <= key.expiresAt, `keys[${i}] activeUntil <= expiresAt`);
    assert.ok(key.createdAt <= key.expiresAt, `keys[${i}] createdAt <= expiresAt`);
    const next = keys[i + 1];
    if (next)
      assert.equal(key.activeUntil, next.activeFrom, `keys[${i}].activeUntil == keys[${i + 1}].activeFrom`);
  });
}
