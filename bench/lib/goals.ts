/**
 * The goals of issue 7 and the distance of a measurement to each, as one ratio whose meaning is
 * the same everywhere: <= 1 means the goal is met, and the number says by how much (0.5 = half
 * of what is allowed; 2 = twice what is allowed).
 */
import { num, pct } from "./stats.ts";

export interface Goal {
  /** What is measured, e.g. "shared keys, steady resumption (worst case)". */
  name: string;
  /** The goal in words, e.g. ">= 99.9% resumed". */
  target: string;
  /** The measured figure, formatted. */
  measured: string;
  /** Distance to the goal: <= 1 met (see the module comment); NaN when nothing was measured. */
  ratio: number;
  /** What the ratio compares, e.g. "of the allowed losses". */
  ratioOf: string;
  met: boolean;
  note?: string;
}

/**
 * A rate that must reach `target` (e.g. resumed >= 99.9%): the ratio compares the losses
 * (1 - rate) with the losses allowed (1 - target).
 */
export function rateAtLeast(name: string, measured: number, target: number, note?: string): Goal {
  const ratio = (1 - measured) / (1 - target);
  return {
    name,
    target: `>= ${pct(target, 1)}`,
    measured: pct(measured),
    ratio,
    ratioOf: "the allowed losses",
    met: Number.isFinite(ratio) && ratio <= 1,
    ...(note === undefined ? {} : { note }),
  };
}

/** A figure that must stay at or below `limit` (same unit): the ratio is measured / limit. */
export function atMost(
  name: string,
  measured: number,
  limit: number,
  format: (x: number) => string,
  note?: string,
): Goal {
  const ratio = measured / limit;
  return {
    name,
    target: `<= ${format(limit)}`,
    measured: format(measured),
    ratio,
    ratioOf: "the limit",
    met: Number.isFinite(ratio) && ratio <= 1,
    ...(note === undefined ? {} : { note }),
  };
}

export const seconds = (x: number): string => `${num(x, 2)} s`;
export const milliseconds = (x: number): string => `${num(x, 0)} ms`;
export const megabytes = (x: number): string => `${num(x, 1)} MB`;
export const percentOver = (x: number): string => pct(x, 1);
export const factor = (x: number): string => `${num(x, 2)}x`;

/** "goal <name> (<target>): measured <value> (<ratio>x <ratioOf>) met | MISSED". */
export function goalLine(goal: Goal): string {
  const distance = Number.isFinite(goal.ratio) ? `${goal.ratio.toFixed(2)}x ${goal.ratioOf}` : "not measured";
  return `goal ${goal.name} (${goal.target}): measured ${goal.measured} (${distance}) ${goal.met ? "met" : "MISSED"}${goal.note ? ` - ${goal.note}` : ""}`;
}
