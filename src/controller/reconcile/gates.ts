/** The steps that can end a reconcile before any key is looked at: the spec, then ownership. */
import { maxPolicyNameLength, parseSpec } from "../../api/policy.ts";
import { ownedBy } from "../ownership.ts";
import { failure } from "./condition.ts";
import type { Context, Stop, Target } from "./types.ts";

/** How often a policy blocked by someone else's Secret checks whether that Secret is gone. */
export const conflictRecheckMs = 30_000;

/** An invalid spec stops here (InvalidSpec naming the fields); it is retried when the policy changes. */
export function checkSpec(ctx: Context): Target | Stop {
  if (ctx.policy.metadata.name.length > maxPolicyNameLength) {
    // The CRD refuses such a name; one admitted before that rule existed is reported here.
    const message = `metadata.name: must be at most ${maxPolicyNameLength} characters (it is the value of the Secret's ticketkeys.dev/policy label); recreate the policy under a shorter name`;
    return { stop: failure(ctx, "InvalidSpec", message) };
  }
  const parsed = parseSpec(ctx.policy.spec);
  if (!parsed.ok) return { stop: failure(ctx, "InvalidSpec", parsed.message) };
  return { spec: parsed.spec, secretName: parsed.spec.secretName ?? ctx.policy.metadata.name };
}

/** A Secret of that name not made for this policy is never written (SecretConflict). */
export function checkOwnership(ctx: Context, { secretName }: Target): Stop | undefined {
  if (ctx.secret === undefined || ownedBy(ctx.secret, ctx.policy)) return undefined;
  const message = `Secret ${secretName} exists and is not managed by this policy: it is left untouched. Delete it or set spec.secretName to another name.`;
  // A Secret without our label is not watched: look again later to notice it was removed.
  return {
    stop: { ...failure(ctx, "SecretConflict", message, secretName), requeueAt: ctx.now + conflictRecheckMs },
  };
}
