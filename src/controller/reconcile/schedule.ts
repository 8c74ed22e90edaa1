/** The key schedule applied to the ring found, and the event that says what it changed. */
import { revokeAnnotation } from "../../api/names.ts";
import { nextRing, type ScheduleResult } from "../../core/schedule.ts";
import { ringStatus, type RingView } from "../status.ts";
import { watermark, type FoundRing, type Tokens } from "./read.ts";
import type { Context, PolicyEvent, Target } from "./types.ts";

export interface Scheduled {
  next: ScheduleResult;
  /** The new ring as status shows it: key ids and instants. */
  view: RingView;
  /** What the schedule changed: Generated, Rotated or Revoked. */
  event: PolicyEvent | undefined;
}

function changeEvent(
  next: ScheduleResult,
  view: RingView,
  found: FoundRing,
  tokens: Tokens,
  name: string,
): PolicyEvent | undefined {
  const active = view.activeKey ?? "?";
  const normal = (reason: string, message: string): PolicyEvent => ({ type: "Normal", reason, message });
  switch (next.change) {
    case "generated":
      // A lost ring was reported already (RingRegenerated).
      return found.lost === undefined
        ? normal("Generated", `Generated a key ring in Secret ${name}: active key ${active}`)
        : undefined;
    case "rotated":
      return normal(
        "Rotated",
        `Published pending key ${view.pendingKey ?? "?"}; active key ${active}${tokens.rotate ? " (rotation requested by annotation)" : ""}`,
      );
    case "revoked":
      return normal(
        "Revoked",
        `Revoked every key as requested by ${revokeAnnotation}: new active key ${active}. Existing sessions need a full handshake.`,
      );
    default:
      return undefined;
  }
}

export function scheduleRing(ctx: Context, target: Target, found: FoundRing, tokens: Tokens): Scheduled {
  const { spec, secretName } = target;
  const next = nextRing({
    previous: found.ring,
    spec: {
      rotationIntervalMs: spec.rotationIntervalMs,
      retiredKeys: spec.retiredKeys,
      suspend: spec.suspend,
    },
    now: ctx.now,
    random: ctx.random,
    rotate: tokens.rotate,
    revoke: tokens.revoke,
    issuedAfter: watermark(ctx.prior),
  });
  const view = ringStatus(next.ring, ctx.now);
  return { next, view, event: changeEvent(next, view, found, tokens, secretName) };
}
