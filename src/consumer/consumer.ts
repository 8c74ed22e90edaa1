/**
 * What the single-key consumer and the router share: following a source through the ring clock,
 * counting handshakes, and the metrics, logs and statistics of both.
 */
import { keyId, type Ring } from "../core/index.ts";
import type { Clock } from "./clock.ts";
import type { ConsumerStats, HandshakeCounts, RingEvent } from "./events.ts";
import { defaultLogger, type Logger } from "./log.ts";
import { consumerMetrics, type ConsumerMetrics } from "./metrics.ts";
import { RingClock, servingStates, stateOf, type RingView, type ServingState } from "./ring-clock.ts";
import type { Rejection, RingSource } from "./ring-source.ts";
import type { Registry } from "prom-client";

/** Options every consumer takes. */
export interface ConsumerOptions {
  /** A pino logger; default one named "ticket-key-operator/consumer" on stdout. */
  log?: Logger;
  /** Where the metrics are registered; default a new Registry (see `metrics.registry`). */
  registry?: Registry;
  /** Metrics to use instead (e.g. consumerMetrics() shared by several consumers). */
  metrics?: ConsumerMetrics;
  /** The time source (tests); default Date.now and setTimeout. */
  clock?: Clock;
}

/** The callbacks through which a consumer applies keys and emits its events. */
export interface ConsumerHooks {
  /** The live keys changed: apply them (never throws). */
  apply(view: RingView): void;
  ring(event: RingEvent): void;
  rejected(rejection: Rejection): void;
  sourceError(error: Error): void;
}

function summary(view: RingView): RingEvent {
  return {
    activeKey: keyId(view.active),
    keys: view.live.map((key) => ({
      id: keyId(key),
      state: stateOf(view, key),
      activeFrom: new Date(key.activeFrom),
      activeUntil: new Date(key.activeUntil),
      expiresAt: new Date(key.expiresAt),
    })),
    cause: view.cause,
    at: new Date(view.at),
  };
}

export class KeyConsumer {
  readonly metrics: ConsumerMetrics;
  readonly log: Logger;
  readonly ringClock: RingClock;
  /** Resolves with the first ring applied; rejects when the source cannot start. */
  readonly ready: Promise<Ring>;
  readonly #source: RingSource;
  readonly #ownsSource: boolean;
  readonly #hooks: ConsumerHooks;
  readonly #counts: Record<ServingState, HandshakeCounts> = {
    active: { resumed: 0, full: 0 },
    pending: { resumed: 0, full: 0 },
    retired: { resumed: 0, full: 0 },
  };
  readonly #handshakeCounters: Record<ServingState, { resumed: { inc(): void }; full: { inc(): void } }>;
  #rejected = 0;
  #errors = 0;
  #activeKey: Buffer | undefined;
  #lastUpdate: Date | undefined;
  #stopped = false;

  constructor(source: RingSource, ownsSource: boolean, options: ConsumerOptions, hooks: ConsumerHooks) {
    this.#source = source;
    this.#ownsSource = ownsSource;
    this.#hooks = hooks;
    this.log = options.log ?? defaultLogger();
    this.metrics = options.metrics ?? consumerMetrics(options.registry);
    const handshakes = this.metrics.handshakes;
    const bind = (state: ServingState) => ({
      resumed: handshakes.labels({ resumed: "true", key_state: state }),
      full: handshakes.labels({ resumed: "false", key_state: state }),
    });
    this.#handshakeCounters = { active: bind("active"), pending: bind("pending"), retired: bind("retired") };
    this.ringClock = new RingClock(options.clock === undefined ? {} : { clock: options.clock });
    this.ringClock.on("change", this.#onChange);
    source.on("ring", this.#onRing);
    source.on("rejected", this.#onRejected);
    source.on("error", this.#onError);
    const current = source.current;
    if (current !== undefined) this.ringClock.update(current);
    this.ready = source.start().then((ring) => {
      if (this.ringClock.ring === undefined && !this.#stopped) this.ringClock.update(source.current ?? ring);
      return ring;
    });
    this.ready.catch((error: unknown) => {
      this.log.error(
        { err: error instanceof Error ? error.message : String(error) },
        "ticket key source failed to start",
      );
    });
  }

  /** Counts one completed handshake on a server holding a key in `state`. */
  handshake(state: ServingState, resumed: boolean): void {
    const counts = this.#counts[state];
    if (resumed) {
      counts.resumed++;
      this.#handshakeCounters[state].resumed.inc();
    } else {
      counts.full++;
      this.#handshakeCounters[state].full.inc();
    }
  }

  stats(): ConsumerStats {
    let resumed = 0;
    let full = 0;
    const byKeyState = {} as Record<ServingState, HandshakeCounts>;
    for (const state of servingStates) {
      const counts = this.#counts[state];
      resumed += counts.resumed;
      full += counts.full;
      byKeyState[state] = { ...counts };
    }
    return {
      resumed,
      full,
      byKeyState,
      rejectedUpdates: this.#rejected,
      sourceErrors: this.#errors,
      activeKey: this.#activeKey === undefined ? undefined : keyId({ name: this.#activeKey }),
      lastUpdate: this.#lastUpdate,
    };
  }

  /** Stops following the source (and stops it if the consumer created it). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.ringClock.stop();
    this.ringClock.off("change", this.#onChange);
    this.#source.off("ring", this.#onRing);
    this.#source.off("rejected", this.#onRejected);
    this.#source.off("error", this.#onError);
    if (this.#ownsSource) await this.#source.stop();
  }

  readonly #onRing = (ring: Ring): void => {
    this.ringClock.update(ring);
  };

  readonly #onRejected = (rejection: Rejection): void => {
    this.#rejected++;
    this.metrics.rejectedUpdates.inc();
    this.#hooks.rejected(rejection);
  };

  readonly #onError = (error: Error): void => {
    this.#errors++;
    this.metrics.sourceErrors.inc();
    this.#hooks.sourceError(error);
  };

  readonly #onChange = (view: RingView): void => {
    this.#hooks.apply(view);
    const active = view.active;
    if (this.#activeKey === undefined || !this.#activeKey.equals(active.name)) {
      const previous = this.#activeKey;
      this.#activeKey = active.name;
      this.metrics.activeKey.reset();
      this.metrics.activeKey.set({ key_id: keyId(active) }, 1);
      if (previous !== undefined) this.metrics.keyActivations.inc();
      this.log.info(
        {
          activeKey: keyId(active),
          previousKey: previous === undefined ? undefined : keyId({ name: previous }),
          cause: view.cause,
        },
        "ticket key activated",
      );
    }
    if (view.cause === "update") {
      this.#lastUpdate = new Date(view.at);
      this.metrics.lastUpdate.set(view.at / 1000);
    }
    this.metrics.keys.set({ state: "active" }, 1);
    this.metrics.keys.set({ state: "pending" }, view.pending.length);
    this.metrics.keys.set({ state: "retired" }, view.retired.length);
    this.#hooks.ring(summary(view));
  };
}
