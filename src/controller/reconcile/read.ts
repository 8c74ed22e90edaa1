/** What the owned Secret says: the ring in its ring.json, and the annotation tokens it records. */
import type { V1Secret } from "@kubernetes/client-node";
import {
  revokeAnnotation,
  revokeHandledAnnotation,
  ringDataKey,
  rotateAnnotation,
  rotateHandledAnnotation,
} from "../../api/names.ts";
import { parseRing, RingFormatError, type Ring } from "../../core/ring.ts";
import type { Context, PolicyEvent, Target } from "./types.ts";

export interface FoundRing {
  /** The ring to continue from; undefined: a fresh one is made. */
  ring: Ring | undefined;
  /** Why an earlier ring is lost (the Secret was deleted, or its ring.json is invalid). */
  lost: PolicyEvent | undefined;
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

export function readRing({ secret, prior }: Context, { secretName }: Target): FoundRing {
  if (secret === undefined) {
    // No Secret: the first ring, or (when status lists keys) the Secret was deleted.
    const lost = (prior.keys?.length ?? 0) > 0 ? regenerated(`Secret ${secretName} was deleted`) : undefined;
    return { ring: undefined, lost };
  }
  try {
    return { ring: decodeRing(secret), lost: undefined };
  } catch (err) {
    const why = err instanceof RingFormatError ? err.message : "unreadable";
    return {
      ring: undefined,
      lost: regenerated(`${ringDataKey} in Secret ${secretName} is invalid (${why})`),
    };
  }
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
export function readTokens({ policy, secret }: Context, found: FoundRing): Tokens {
  const annotations = policy.metadata.annotations ?? {};
  const recorded = secret?.metadata?.annotations ?? {};
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
