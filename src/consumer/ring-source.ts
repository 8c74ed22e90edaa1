/**
 * Where a consumer gets its ring: the common shape of every source (the Kubernetes API, a
 * mounted Secret directory, a ring pushed by hand), and the validation they share.
 */
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";

import { activeKey, keyId, type Ring } from "../core/index.ts";
import { systemClock, type Clock } from "./clock.ts";
import { defaultLogger, type Logger } from "./log.ts";
import { RingState, type RingStateOptions } from "./ring-state.ts";

function sha256(input: string | Buffer): string {
  return createHash("sha256").update(input).digest("base64");
}

/** An update that was not taken: the reason names the problem, never key bytes. */
export interface Rejection {
  reason: string;
}

export interface RingSourceEvents {
  /** A new good ring (not emitted again for an identical update). */
  ring: [Ring];
  /** A malformed or tampered update; the last good ring stays in force. */
  rejected: [Rejection];
  /**
   * A transient failure (API unreachable, file unreadable); the source retries by itself. Only
   * emitted when someone listens: an unobserved source error never crashes the process.
   */
  error: [Error];
}

/** A source of key rings. */
export interface RingSource extends EventEmitter<RingSourceEvents> {
  /** The last good ring, if any. */
  readonly current: Ring | undefined;
  /**
   * Starts watching (idempotent); resolves with the first good ring. Rejects when the source
   * cannot work at all (e.g. the API denies access, the directory does not exist).
   */
  start(): Promise<Ring>;
  /** Stops watching; the last good ring stays readable in `current`. */
  stop(): Promise<void>;
}

export interface RingSourceOptions extends RingStateOptions {
  log?: Logger;
  /** Only `now` is used (to check an update's instants). */
  clock?: Pick<Clock, "now">;
}

/**
 * The shared machinery of the sources: validation, events, logs, and a start() that resolves
 * with the first good ring once the source is fully open.
 */
export abstract class BaseRingSource extends EventEmitter<RingSourceEvents> implements RingSource {
  /** Says where the rings come from, for logs ("Secret shop/web-keys", "directory /keys"). */
  readonly description: string;
  protected readonly log: Logger;
  readonly #state: RingState;
  readonly #clock: Pick<Clock, "now">;
  #started: Promise<Ring> | undefined;
  #firstRing: { resolve: (ring: Ring) => void; reject: (error: Error) => void } | undefined;
  #lastError: string | undefined;
  #lastRejected: string | undefined;

  protected constructor(description: string, options: RingSourceOptions) {
    super();
    this.description = description;
    this.log = (options.log ?? defaultLogger()).child({ source: description });
    this.#state = new RingState(options);
    this.#clock = options.clock ?? systemClock;
  }

  get current(): Ring | undefined {
    return this.#state.current;
  }

  start(): Promise<Ring> {
    if (this.#started !== undefined) return this.#started;
    const first = new Promise<Ring>((resolve, reject) => {
      this.#firstRing = { resolve, reject };
    });
    const current = this.current;
    if (current !== undefined) this.#firstRing?.resolve(current);
    const opened = this.open().catch(async (error: unknown) => {
      await this.close().catch(() => undefined);
      throw error;
    });
    this.#started = Promise.all([opened, first]).then(([, ring]) => ring);
    this.#started.catch(() => {
      this.#started = undefined;
    });
    return this.#started;
  }

  async stop(): Promise<void> {
    this.#firstRing?.reject(new Error(`${this.description}: stopped before the first ring arrived`));
    this.#firstRing = undefined;
    this.#started = undefined;
    await this.close();
  }

  /** Begins watching; resolves once the source is open, rejects when it cannot work at all. */
  protected abstract open(): Promise<void>;

  /** Stops watching and releases every resource. */
  protected abstract close(): Promise<void>;

  /** Validates an update and emits `ring` or `rejected`. True when the update was accepted. */
  protected offer(input: string | Buffer | Ring): boolean {
    // The same rejected bytes again (a re-read, a re-list) are not reported again.
    const digest = typeof input === "string" || Buffer.isBuffer(input) ? sha256(input) : undefined;
    if (digest !== undefined && digest === this.#lastRejected) return false;
    const verdict = this.#state.accept(input, this.#clock.now());
    if (!verdict.accepted) {
      this.#lastRejected = digest;
      this.reject(verdict.reason);
      return false;
    }
    this.#lastRejected = undefined;
    this.recovered();
    const ring = verdict.ring;
    if (verdict.changed) {
      const active = activeKey(ring, this.#clock.now()) ?? ring.keys[0];
      this.log.info(
        { activeKey: active === undefined ? undefined : keyId(active), keys: ring.keys.length },
        "ticket key ring received",
      );
      this.emit("ring", ring);
    }
    this.#firstRing?.resolve(ring);
    this.#firstRing = undefined;
    return true;
  }

  /** Rejects an update (logged at warn, emitted as `rejected`). */
  protected reject(reason: string): void {
    this.log.warn({ reason }, "ticket key ring update rejected; keeping the last good ring");
    this.emit("rejected", { reason });
  }

  /** A transient failure: logged (once per distinct message in a row) and emitted if observed. */
  protected report(error: Error, details: Record<string, unknown> = {}): void {
    if (error.message !== this.#lastError) {
      this.log.warn(
        { ...details, err: error.message },
        "ticket key source failed; keeping the last good ring",
      );
    }
    this.#lastError = error.message;
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** The source works again after a failure (logged once). */
  protected recovered(): void {
    if (this.#lastError === undefined) return;
    this.#lastError = undefined;
    this.log.info("ticket key source recovered");
  }
}
