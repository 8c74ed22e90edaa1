/**
 * What the owned Secret says: the ring in its ring.json, and the annotation tokens it records.
 * The controller is the only author of ring.json (docs/design.md#invariants): one that is
 * missing, invalid, or replaced by a ring not issued after the one the controller holds is
 * restored from that ring (RingRestored); a fresh ring is made only when it holds none.
 */
import type { V1Secret } from "@kubernetes/client-node";
import {
  revokeAnnotation,
  revokeHandledAnnotation,
  ringDataKey,
  rotateAnnotation,
  rotateHandledAnnotation,
} from "../../api/names.ts";
import { formatInstant, parseInstant } from "../../core/ring-schema.ts";
import { maxClockBehindMs } from "../../core/schedule.ts";
import { parseRing, RingFormatError, serializeRing, type Ring } from "../../core/ring.ts";
import type { Context, HeldRing, PolicyEvent, Target } from "./types.ts";

export interface FoundRing {
  /** The ring to continue from; undefined: a fresh one is made. */
  ring: Ring | undefined;
  /** Why an earlier ring is lost (the Secret was deleted, or its ring.json is invalid). */
  lost: PolicyEvent | undefined;
  /** RingRestored: ring.json was not the controller's, and the held ring replaces it. */
  restored?: PolicyEvent | undefined;
  /** The tokens recorded as handled (the Secret's annotations, or the held ones when it is gone). */
  recorded: Record<string, string>;
}

function decodeRing(secret: V1Secret): Ring {
  const raw = secret.data?.[ringDataKey];
  if (raw === undefined) throw new RingFormatError(`the Secret has no ${ringDataKey}`);
  return parseRing(Buffer.from(raw, "base64"));
}

const regenerated = (why: string): PolicyEvent => ({
  type: "Warning",
  reason: "RingRegenerated",
  message: `${why}: generated a fresh key ring. The previous keys are gone; sessions they protected need a full handshake.`,
});

const restoredBecause = (why: string): PolicyEvent => ({
  type: "Warning",
  reason: "RingRestored",
  message: `${why}: restored the key ring the operator wrote. Only the operator writes ${ringDataKey}; use the ticketkeys.dev/revoke annotation to replace keys.`,
});

/** Why `ring` is not one to continue from, given the ring the controller holds; undefined if it is. */
function notIssuedAfter(ring: Ring, held: Ring): string | undefined {
  if (serializeRing(ring) === serializeRing(held) || held.issuedAt === undefined) return undefined;
  const mine = formatInstant(held.issuedAt);
  if (ring.issuedAt === undefined)
    return `replaced by a ring without issuedAt (the operator's was issued at ${mine})`;
  if (ring.issuedAt < held.issuedAt) {
    return `replaced by a ring issued at ${formatInstant(ring.issuedAt)}, before the operator's (${mine})`;
  }
  // A ring issued later was written by another replica of the controller: it is the current one.
  if (ring.issuedAt > held.issuedAt) return undefined;
  return `edited: other keys or instants under the operator's issuedAt (${mine})`;
}

/** The status's watermark: issuedAt of the last ring written, whoever wrote it (epoch ms). */
export function watermark(prior: Context["prior"]): number | undefined {
  const at = prior.ringIssuedAt === undefined ? Number.NaN : parseInstant(prior.ringIssuedAt);
  return Number.isNaN(at) ? undefined : at;
}

/**
 * Why a ring read from the Secret cannot be continued from by a controller that holds none: it
 * was issued before the status's watermark (a replay), or further ahead than any clock skew.
 */
function unusable(ring: Ring, issuedAfter: number | undefined, now: number): string | undefined {
  if (ring.issuedAt === undefined) return undefined; // an older controller's ring
  if (issuedAfter !== undefined && ring.issuedAt < issuedAfter) {
    return `was replaced by a ring issued at ${formatInstant(ring.issuedAt)}, before the last one the operator wrote (${formatInstant(issuedAfter)})`;
  }
  if (ring.issuedAt > now + maxClockBehindMs) {
    return `holds a ring issued at ${formatInstant(ring.issuedAt)}, ahead of this clock by more than any skew`;
  }
  return undefined;
}

export function readRing({ secret, prior, held: heldAny, now }: Context, { secretName }: Target): FoundRing {
  const annotations = secret?.metadata?.annotations ?? {};
  // A ring held for another Secret (spec.secretName changed) says nothing of this one.
  const held = heldAny?.secretName === secretName ? heldAny : undefined;
  const issuedAfter = watermark(prior);
  const restore = (from: HeldRing, why: string, recorded: Record<string, string>): FoundRing => ({
    ring: from.ring,
    lost: undefined,
    restored: restoredBecause(why),
    recorded,
  });
  if (secret === undefined) {
    const why = `Secret ${secretName} was deleted`;
    // No Secret: the first ring (also after a change of spec.secretName), or it was deleted.
    const deleted = (prior.keys?.length ?? 0) > 0 && prior.secretName === secretName;
    if (held !== undefined) return restore(held, why, held.handled);
    return { ring: undefined, lost: deleted ? regenerated(why) : undefined, recorded: {} };
  }
  let ring: Ring;
  try {
    ring = decodeRing(secret);
  } catch (err) {
    const why = `${ringDataKey} in Secret ${secretName} is invalid (${err instanceof RingFormatError ? err.message : "unreadable"})`;
    if (held !== undefined) return restore(held, why, annotations);
    return { ring: undefined, lost: regenerated(why), recorded: annotations };
  }
  if (held !== undefined) {
    const replaced = notIssuedAfter(ring, held.ring);
    if (replaced !== undefined) {
      return restore(held, `${ringDataKey} in Secret ${secretName} was ${replaced}`, annotations);
    }
    return { ring, lost: undefined, recorded: annotations };
  }
  const why = unusable(ring, issuedAfter, now);
  if (why !== undefined) {
    return {
      ring: undefined,
      lost: regenerated(`${ringDataKey} in Secret ${secretName} ${why}`),
      recorded: annotations,
    };
  }
  return { ring, lost: undefined, recorded: annotations };
}

export interface Tokens {
  /** A rotate / revoke token on the policy that the Secret does not record as handled. */
  rotate: boolean;
  revoke: boolean;
  /** The handled-token annotations the Secret carries next: every token on the policy. */
  handled: Record<string, string>;
}

/**
 * ticketkeys.dev/rotate and /revoke: each token is acted on once, the Secret written with its
 * result records it. Tokens present when the ring is first made are recorded, not acted on: the
 * ring is new anyway.
 */
export function readTokens({ policy }: Context, found: FoundRing): Tokens {
  const annotations = policy.metadata.annotations ?? {};
  const recorded = found.recorded;
  const handled: Record<string, string> = {};
  const fresh = (annotation: string, handledAnnotation: string): boolean => {
    const token = annotations[annotation];
    if (token === undefined) return false;
    handled[handledAnnotation] = token;
    return found.ring !== undefined && token !== recorded[handledAnnotation];
  };
  const rotate = fresh(rotateAnnotation, rotateHandledAnnotation);
  const revoke = fresh(revokeAnnotation, revokeHandledAnnotation);
  return { rotate, revoke, handled };
}
