/**
 * Turns a ring into key switches at the ring's own instants. Every consumer switches keys on the
 * TIMESTAMPS of the ring (activeFrom, expiresAt), never on receipt: replicas that received the
 * ring at different moments still switch at the same instant. The clock emits `change` at once
 * for each new ring, then at every instant a key changes state (a pending key activates, a
 * retired key expires), so expired keys are dropped even when no update arrives.
 */
import { EventEmitter } from "node:events";

import { keyState, nextStateChange, type Key, type Ring } from "../core/index.ts";
import { servingKeys } from "../core/serving-order.ts";
import { maxTimerMs, systemClock, type Clock } from "./clock.ts";

/** The state of a live key (a gone key is not live). */
export type ServingState = "active" | "pending" | "retired";
export const servingStates: readonly ServingState[] = ["active", "pending", "retired"];

/** The live keys of a ring at one instant. */
export interface RingView {
  readonly ring: Ring;
  /** The instant (epoch ms) the view was computed for. */
  readonly at: number;
  /** "update": a new ring arrived; "schedule": a key changed state on its own. */
  readonly cause: "update" | "schedule";
  /** The key that encrypts (the earliest key when none has started yet at this clock). */
  readonly active: Key;
  /** Keys not started yet, soonest first. */
  readonly pending: readonly Key[];
  /** Decrypt-only keys that are not gone, newest first. */
  readonly retired: readonly Key[];
  /** [active, ...pending, ...retired]. */
  readonly live: readonly Key[];
  /** The next instant a key changes state, if any. */
  readonly nextChange: number | undefined;
}

/** The state of a live key in a view (the active one even when it has not started yet). */
export function stateOf(view: RingView, key: Key): ServingState {
  if (key === view.active) return "active";
  return keyState(view.ring, key, view.at) === "pending" ? "pending" : "retired";
}

export interface RingClockOptions {
  clock?: Clock;
  /**
   * The longest single wait, at most 2^31 - 1 ms. The clock re-reads the time at least this
   * often, so a wall-clock step (NTP, a resumed VM) delays a switch by at most this long.
   * Default 60 s.
   */
  maxWaitMs?: number;
}

export class RingClock extends EventEmitter<{ change: [RingView] }> {
  readonly #clock: Clock;
  readonly #maxWaitMs: number;
  #ring: Ring | undefined;
  #view: RingView | undefined;
  #cancel: (() => void) | undefined;
  #due: number | undefined;
  #stopped = false;

  constructor(options: RingClockOptions = {}) {
    super();
    this.#clock = options.clock ?? systemClock;
    this.#maxWaitMs = Math.min(Math.max(1, options.maxWaitMs ?? 60_000), maxTimerMs);
  }

  /** The ring in force, if any. */
  get ring(): Ring | undefined {
    return this.#ring;
  }

  /** The last view emitted. */
  get view(): RingView | undefined {
    return this.#view;
  }

  /** The ring the clock follows from now on; emits `change` at once (a no-op for the same ring). */
  update(ring: Ring): void {
    if (this.#stopped || ring === this.#ring) return;
    this.#ring = ring;
    this.#fire("update");
  }

  /** Cancels the timer; no `change` follows. */
  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  #fire(cause: RingView["cause"]): void {
    const ring = this.#ring;
    if (ring === undefined || this.#stopped) return;
    const now = this.#clock.now();
    const keys = servingKeys(ring, now);
    const nextChange = nextStateChange(ring, now);
    // Schedule first: a throwing listener must not stop the clock.
    this.#schedule(nextChange);
    if (keys === undefined) return;
    const view: RingView = {
      ring,
      at: now,
      cause,
      active: keys.active,
      pending: keys.pending,
      retired: keys.retired,
      live: [keys.active, ...keys.pending, ...keys.retired],
      nextChange,
    };
    this.#view = view;
    this.emit("change", view);
  }

  #schedule(due: number | undefined): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#due = due;
    if (this.#stopped || due === undefined) return;
    const wait = Math.min(Math.max(1, due - this.#clock.now()), this.#maxWaitMs);
    this.#cancel = this.#clock.schedule(() => {
      this.#wake();
    }, wait);
  }

  #wake(): void {
    this.#cancel = undefined;
    const due = this.#due;
    // Timers may fire a millisecond early, and a capped wait is only a re-check: wait again.
    if (due !== undefined && this.#clock.now() < due) {
      this.#schedule(due);
      return;
    }
    this.#fire("schedule");
  }
}
