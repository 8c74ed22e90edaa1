/**
 * The keys a schedule published (by name), and what clients' handshakes say about them: which
 * key was active when, why a reconnection was not resumed (losses), and whether each ticket
 * was issued under the key active at that instant.
 */
import { keyId, type Key } from "../src/core/index.ts";
import type { Handshake } from "./clients/client.ts";

/** The known keys by name (hex), with their latest instants. */
export type KeyBook = ReadonlyMap<string, Key>;

/** The key whose activeFrom <= at < activeUntil. */
export function activeAt(keys: KeyBook, at: number): Key | undefined {
  return [...keys.values()].find((k) => k.activeFrom <= at && at < k.activeUntil);
}

export interface Losses {
  /** reconnections not resumed whose offered ticket's key had expired (by design) */
  expired: number;
  /** ... whose key was still live: a server that should have resumed did not */
  live: number;
  unknown: number;
}

/**
 * Why each reconnection that offered a ticket was not resumed, by the key the ticket was under:
 * the key had expired (by design), or it was still live, so a replica that should have
 * decrypted it did not (skew or a bug); a key not in the book (per-replica keys) is unknown.
 */
export function classifyLosses(handshakes: readonly Handshake[], keys: KeyBook): Losses {
  const losses: Losses = { expired: 0, live: 0, unknown: 0 };
  for (const h of handshakes) {
    if (!h.offered || h.resumed || h.error !== undefined) continue;
    const key = h.offeredKey === undefined ? undefined : keys.get(h.offeredKey);
    if (key === undefined) losses.unknown++;
    else if (h.at >= key.expiresAt - 50) losses.expired++;
    else losses.live++;
  }
  return losses;
}

export interface IssuedCheck {
  /** tickets issued (full handshakes and renewals) */
  checked: number;
  /** issued under the key active at that instant */
  active: number;
  /** issued under the key that stopped encrypting less than the tolerance before (a reload in progress) */
  late: number;
  maxLateMs: number;
  /**
   * issued under the pending key less than the tolerance before it activates (HAProxy between
   * the two runtime-API pushes of an update; every replica already holds that key)
   */
  early: number;
  /** anything else */
  wrong: { at: number; issued: string; expected: string | undefined }[];
}

/** Whether each ticket the servers issued is under the key active at that instant. */
export function checkIssuedKeys(
  handshakes: readonly Handshake[],
  keys: KeyBook,
  toleranceMs: number,
): IssuedCheck {
  const check: IssuedCheck = { checked: 0, active: 0, late: 0, maxLateMs: 0, early: 0, wrong: [] };
  for (const h of handshakes) {
    if (h.issuedKey === undefined) continue;
    check.checked++;
    const expected = activeAt(keys, h.at);
    const issued = keys.get(h.issuedKey);
    if (expected !== undefined && issued === expected) {
      check.active++;
    } else if (
      issued !== undefined &&
      issued.activeUntil <= h.at &&
      h.at - issued.activeUntil <= toleranceMs
    ) {
      check.late++;
      check.maxLateMs = Math.max(check.maxLateMs, h.at - issued.activeUntil);
    } else if (issued !== undefined && issued.activeFrom > h.at && issued.activeFrom - h.at <= toleranceMs) {
      check.early++;
    } else {
      // key ids only: these records reach assertion messages (full names are leak-scan needles)
      check.wrong.push({
        at: h.at,
        issued: issued === undefined ? `${h.issuedKey.slice(0, 8)} (unknown)` : keyId(issued),
        expected: expected === undefined ? undefined : keyId(expected),
      });
    }
  }
  return check;
}

/** Waits for the next activation instant; returns the key that stopped and the one that started. */
export async function nextActivation(keys: KeyBook): Promise<{ previous: Key; active: Key }> {
  const previous = activeAt(keys, Date.now());
  if (previous === undefined) throw new Error("no active key");
  for (;;) {
    const active = activeAt(keys, Date.now());
    if (active !== undefined && !active.name.equals(previous.name)) return { previous, active };
    await new Promise((r) => setTimeout(r, 10));
  }
}
