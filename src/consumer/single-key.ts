/**
 * Single-key mode: one existing tls / https / http2 server, whose one ticket key is switched with
 * setTicketKeys() at each activation instant of the ring (from its timestamps, not on receipt).
 * Node discards every ticket of the previous key at that instant: a client holding one does a
 * full handshake once. The router (router.ts) avoids that.
 */
import { EventEmitter } from "node:events";
import type tls from "node:tls";

import { keyId, renderNodeKey, type Ring } from "../core/index.ts";
import { KeyConsumer, type ConsumerOptions } from "./consumer.ts";
import { defaultLogger, type Logger } from "./log.ts";
import type { ConsumerEvents, ConsumerStats } from "./events.ts";
import type { ConsumerMetrics } from "./metrics.ts";
import type { RingView } from "./ring-clock.ts";
import type { RingSource } from "./ring-source.ts";
import { resolveSource, type SourceChoice } from "./source-choice.ts";

export interface SingleKeyEvents extends ConsumerEvents {
  /** A transient source failure (emitted only when listened to: it never crashes the process). */
  error: [Error];
}

/** A server whose ticket key follows a ring. */
export class SingleKeyConsumer extends EventEmitter<SingleKeyEvents> {
  readonly server: tls.Server;
  /** Resolves once the first key is set on the server; rejects when the source cannot start. */
  readonly ready: Promise<Ring>;
  readonly metrics: ConsumerMetrics;
  readonly #consumer: KeyConsumer;
  readonly #log: Logger;
  #applied: Buffer | undefined;

  constructor(
    server: tls.Server,
    source: RingSource,
    options: ConsumerOptions & { ownsSource?: boolean } = {},
  ) {
    super();
    this.server = server;
    this.#log = options.log ?? defaultLogger();
    server.on("secureConnection", this.#onSecureConnection);
    this.#consumer = new KeyConsumer(source, options.ownsSource ?? false, options, {
      apply: (view) => {
        this.#apply(view);
      },
      ring: (event) => {
        if (this.listenerCount("ring") > 0) this.emit("ring", event);
      },
      rejected: (rejection) => {
        if (this.listenerCount("rejected") > 0) this.emit("rejected", rejection);
      },
      sourceError: (error) => {
        if (this.listenerCount("error") > 0) this.emit("error", error);
      },
    });
    this.metrics = this.#consumer.metrics;
    this.ready = this.#consumer.ready;
  }

  /** keyId() of the key the server encrypts with. */
  get activeKey(): string | undefined {
    return this.#applied === undefined ? undefined : keyId({ name: this.#applied });
  }

  /** Handshake counts (resumed / full, by key state), rejected updates, source errors. */
  stats(): ConsumerStats {
    return this.#consumer.stats();
  }

  /** Stops following the ring (the server keeps its current key) and stops an owned source. */
  async stop(): Promise<void> {
    this.server.off("secureConnection", this.#onSecureConnection);
    await this.#consumer.stop();
  }

  #apply(view: RingView): void {
    const active = view.active;
    if (this.#applied?.equals(active.name) === true) return;
    try {
      this.server.setTicketKeys(renderNodeKey(active));
      this.#applied = active.name;
    } catch (error) {
      this.#log.error(
        { activeKey: keyId(active), err: error instanceof Error ? error.message : String(error) },
        "setTicketKeys failed",
      );
    }
  }

  readonly #onSecureConnection = (socket: tls.TLSSocket): void => {
    const resumed = socket.isSessionReused();
    this.#consumer.handshake("active", resumed);
    const applied = this.#applied;
    if (applied !== undefined && this.listenerCount("handshake") > 0) {
      this.emit("handshake", { resumed, keyId: keyId({ name: applied }), keyState: "active" });
    }
  };
}

/**
 * Attaches a server to a source: its ticket key follows the ring from now on. The source is
 * started if it is not yet (and stopped by stop() only with `ownsSource: true`).
 */
export function attachSingleKey(
  server: tls.Server,
  source: RingSource,
  options: ConsumerOptions & { ownsSource?: boolean } = {},
): SingleKeyConsumer {
  return new SingleKeyConsumer(server, source, options);
}

export type ShareTicketKeysOptions = SourceChoice & ConsumerOptions;

/**
 * Single-key mode in one call: shares the ring's keys with `server` (tls.Server, https.Server or
 * http2.Http2SecureServer), switching at each activation instant. Resolves once the first key
 * is set; rejects (and stops) when the source cannot start, e.g. an AccessDeniedError.
 */
export async function shareTicketKeys(
  server: tls.Server,
  options: ShareTicketKeysOptions,
): Promise<SingleKeyConsumer> {
  const { source, owned } = resolveSource(options, { log: options.log, clock: options.clock });
  const consumer = new SingleKeyConsumer(server, source, { ...options, ownsSource: owned });
  try {
    await consumer.ready;
  } catch (error) {
    await consumer.stop();
    throw error;
  }
  return consumer;
}
