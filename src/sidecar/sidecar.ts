/**
 * The sidecar: a ring source (the library's: Kubernetes API watch or mounted Secret directory,
 * with its validation: a malformed or tampered ring is rejected and the last good ring kept),
 * the library's RingClock (fires at once for each new ring, then at every instant a key changes
 * state), and the updater that writes the server's rendering and tells the server.
 */
import type { Ring } from "../core/index.ts";
import { RingClock, systemClock, type Clock, type RingSource } from "../consumer/index.ts";
import { Updater, type UpdaterOptions } from "./updater.ts";

/** The updater's options (the clock optional: the system's by default), the source, resync. */
export interface SidecarOptions extends Omit<UpdaterOptions, "clock"> {
  source: RingSource;
  clock?: Clock;
  /**
   * How often the current ring is applied again even without a change: rewrites a file removed
   * by hand, re-checks HAProxy's runtime keys (a restarted HAProxy). Default 60 s; 0 disables.
   */
  resyncMs?: number;
}

export class Sidecar {
  readonly updater: Updater;
  readonly #options: SidecarOptions;
  readonly #clock: RingClock;
  readonly #now: () => number;
  #resync: NodeJS.Timeout | undefined;

  constructor(options: SidecarOptions) {
    this.#options = options;
    const clock = options.clock ?? systemClock;
    this.#now = () => clock.now();
    this.updater = new Updater({ ...options, clock });
    this.#clock = new RingClock({ clock });
    this.#clock.on("change", (view) => {
      this.updater.request(view.ring);
    });
  }

  /** Ready once the renderings are in --out: a server started after this finds its keys. */
  get ready(): boolean {
    return this.updater.written;
  }

  /** The ring in force, if any. */
  get ring(): Ring | undefined {
    return this.#clock.ring;
  }

  /** Starts the source; resolves once the first ring has been handed to the updater. */
  async start(): Promise<void> {
    const { source, metrics } = this.#options;
    source.on("ring", this.#onRing);
    // The source logs each of these itself (one line, no key material).
    source.on("rejected", () => metrics.failures.inc({ kind: "ring-rejected" }));
    source.on("error", () => metrics.failures.inc({ kind: "source" }));
    const ring = await source.start();
    metrics.lastRing.set(this.#now() / 1000);
    this.#clock.update(ring);
    const resyncMs = this.#options.resyncMs ?? 60_000;
    if (resyncMs > 0) {
      this.#resync = setInterval(() => {
        const current = this.#clock.ring;
        if (current !== undefined) this.updater.request(current);
      }, resyncMs);
      this.#resync.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#resync);
    this.#clock.stop();
    this.#options.source.off("ring", this.#onRing);
    await this.#options.source.stop();
    await this.updater.stop();
  }

  readonly #onRing = (ring: Ring): void => {
    this.#options.metrics.lastRing.set(this.#now() / 1000);
    this.#clock.update(ring);
  };
}
