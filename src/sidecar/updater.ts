/**
 * Applies the ring to the server, one update at a time: render at the current instant, write
 * the files that changed (atomically), tell the server, run --exec. The newest request wins: a
 * request that arrives during an update is applied right after it, intermediate ones are
 * skipped. A failed update is retried with jittered exponential backoff (a new request retries
 * at once); the files already written stay in place, and the sidecar never exits over it.
 *
 * Before the server has been reached once, and for at most `startupGraceMs`, a missing server
 * (no nginx master yet, no HAProxy socket yet) is expected (the sidecar starts first, writes the
 * files the server loads at start) and is logged at info, not counted as a failure.
 */
import { createHash } from "node:crypto";

import { backoffDelay } from "../core/backoff.ts";
import { keyId, type Ring } from "../core/index.ts";
import { servingKeys } from "../core/serving-order.ts";
import { describeError, type Logger } from "../observability/log.ts";
import type { Clock } from "../consumer/index.ts";
import { writeFiles } from "./atomic-write.ts";
import { runCommand } from "./exec.ts";
import { SidecarFailure, type FailureKind } from "./failure.ts";
import type { SidecarMetrics } from "./metrics.ts";
import type { ServerAdapter } from "./servers/server.ts";

export interface UpdaterOptions {
  server: ServerAdapter;
  /** The shared volume the renderings go to. */
  out: string;
  /** File mode of the renderings (0o600, or 0o640 for a shared group). */
  mode: number;
  exec?: { command: string; timeoutMs: number } | undefined;
  metrics: SidecarMetrics;
  log: Logger;
  clock: Clock;
  /** First retry delay; default 500 ms. */
  initialBackoffMs?: number;
  /** Longest retry delay; default 30 s. */
  maxBackoffMs?: number;
  /** See the file comment; default 60 s. */
  startupGraceMs?: number;
}

/** Failures that only mean "the server is not there (yet)". */
const absentKinds: ReadonlySet<FailureKind> = new Set(["nginx-pid", "haproxy-socket"]);

function digestOf(files: ReadonlyMap<string, Buffer>): string {
  const hash = createHash("sha256");
  for (const [name, bytes] of files) hash.update(`${name}\0${bytes.length}\0`).update(bytes);
  return hash.digest("base64");
}

export class Updater {
  readonly #options: UpdaterOptions;
  readonly #startedAt: number;
  #ring: Ring | undefined;
  #dirty = false;
  #running: Promise<void> | undefined;
  #cancelRetry: (() => void) | undefined;
  #stopped = false;
  /** Digest of the files the server last confirmed, and of those --exec last ran for. */
  #notified: string | undefined;
  #executed: string | undefined;
  /** Failed attempts in a row (for the backoff), and those of them counted as failures. */
  #attempts = 0;
  #failures = 0;
  #everSucceeded = false;
  #written = false;
  #lastActive: string | undefined;

  constructor(options: UpdaterOptions) {
    this.#options = options;
    this.#startedAt = options.clock.now();
  }

  /** True once the renderings have been written (the server can start from them). */
  get written(): boolean {
    return this.#written;
  }

  /** True when the last update succeeded. */
  get inSync(): boolean {
    return this.#everSucceeded && this.#attempts === 0;
  }

  /** Applies `ring` as soon as possible (now, or right after the update in progress). */
  request(ring: Ring): void {
    if (this.#stopped) return;
    this.#ring = ring;
    this.#dirty = true;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves when no update is in progress or queued (a scheduled retry does not count). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Cancels retries; waits for an update in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    await this.#running;
  }

  async #drain(): Promise<void> {
    while (this.#dirty && !this.#stopped) {
      this.#dirty = false;
      const ring = this.#ring;
      if (ring === undefined) return;
      if (await this.#attempt(ring)) continue;
      // A newer ring arrived during the failed attempt: try it at once; else back off.
      if (!this.#requestedMeanwhile()) this.#scheduleRetry();
    }
  }

  /** A method, not the field: request() may set it while an attempt awaits. */
  #requestedMeanwhile(): boolean {
    return this.#dirty;
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    const { initialBackoffMs = 500, maxBackoffMs = 30_000 } = this.#options;
    const delay = Math.max(
      1,
      backoffDelay(this.#attempts, { baseMs: initialBackoffMs, capMs: maxBackoffMs }),
    );
    this.#cancelRetry = this.#options.clock.schedule(() => {
      this.#cancelRetry = undefined;
      const ring = this.#ring;
      if (ring !== undefined) this.request(ring);
    }, delay);
  }

  /** One update. True on success; on failure it has been reported. */
  async #attempt(ring: Ring): Promise<boolean> {
    const { server, out, mode, exec, metrics, clock } = this.#options;
    const now = clock.now();
    const started = performance.now();
    let step = "render";
    try {
      const rendering = server.render(ring, now);
      step = "write";
      let written: string[];
      try {
        ({ written } = await writeFiles(out, rendering.files, mode));
      } catch (error) {
        throw new SidecarFailure("write", `cannot write the renderings into ${out}: ${describeError(error)}`);
      }
      this.#written = true;
      const digest = digestOf(rendering.files);
      step = "notify";
      const { action, changed } = await server.notify(rendering, { confirmed: digest === this.#notified });
      this.#notified = digest;
      if (exec !== undefined && digest !== this.#executed) {
        step = "exec";
        await runCommand({
          command: exec.command,
          timeoutMs: exec.timeoutMs,
          env: { TICKET_KEYS_OUT: out, TICKET_KEYS_CHANGED: written.join(",") },
        });
        this.#executed = digest;
      }
      this.#succeeded(ring, now, { written, action, changed, seconds: (performance.now() - started) / 1000 });
      metrics.updateDuration.observe({ server: server.kind }, (performance.now() - started) / 1000);
      return true;
    } catch (error) {
      const failure =
        error instanceof SidecarFailure
          ? error
          : new SidecarFailure("internal", `unexpected error (${step}): ${describeError(error)}`);
      this.#failed(failure);
      return false;
    }
  }

  #succeeded(
    ring: Ring,
    now: number,
    details: { written: string[]; action: string; changed: boolean; seconds: number },
  ): void {
    const { metrics, log, server } = this.#options;
    const keys = servingKeys(ring, now);
    const active = keys === undefined ? undefined : keyId(keys.active);
    const recoveredFrom = this.#failures;
    this.#failures = 0;
    this.#attempts = 0;
    this.#everSucceeded = true;
    metrics.updates.inc({ server: server.kind });
    metrics.consecutiveFailures.set(0);
    metrics.inSync.set(1);
    metrics.lastSuccess.set(now / 1000);
    if (active !== undefined && active !== this.#lastActive) {
      metrics.activeKey.reset();
      metrics.activeKey.set({ key_id: active }, 1);
    }
    metrics.keys.set({ state: "active" }, keys === undefined ? 0 : 1);
    metrics.keys.set({ state: "pending" }, keys?.pending.length ?? 0);
    metrics.keys.set({ state: "retired" }, keys?.retired.length ?? 0);
    const changed = details.written.length > 0 || details.changed || active !== this.#lastActive;
    this.#lastActive = active;
    if (!changed && recoveredFrom === 0) {
      log.debug({ server: server.kind, activeKey: active, action: details.action }, "ticket keys unchanged");
      return;
    }
    log.info(
      {
        server: server.kind,
        activeKey: active,
        pendingKeys: keys?.pending.map(keyId),
        retiredKeys: keys?.retired.map(keyId),
        files: details.written,
        action: details.action,
        ms: Math.round(details.seconds * 1000),
        ...(recoveredFrom > 0 ? { recoveredAfterFailures: recoveredFrom } : {}),
      },
      recoveredFrom > 0 ? "ticket keys applied: recovered" : "ticket keys applied",
    );
  }

  #failed(failure: SidecarFailure): void {
    const { metrics, log, clock, startupGraceMs = 60_000 } = this.#options;
    const waiting =
      !this.#everSucceeded && absentKinds.has(failure.kind) && clock.now() - this.#startedAt < startupGraceMs;
    if (waiting) {
      // The server is starting (after this sidecar, which wrote the files it loads).
      log.info({ kind: failure.kind, err: failure.message }, "waiting for the server to start");
      this.#attempts = Math.min(this.#attempts + 1, 2); // retry about every second meanwhile
      return;
    }
    this.#attempts++;
    this.#failures++;
    metrics.failures.inc({ kind: failure.kind });
    metrics.consecutiveFailures.set(this.#failures);
    metrics.inSync.set(0);
    log.warn(
      { kind: failure.kind, err: failure.message, attempt: this.#failures },
      "ticket key update failed; the previous keys stay in force, retrying",
    );
  }
}
