/**
 * Multi-key mode: a net.Server in front of one tls / https / http2 server per live key. Node's
 * TLS server holds one ticket key; the router gives it the decrypt-only keys nginx, HAProxy and
 * Envoy have: it reads each connection's ClientHello, takes the 16-byte key name at the start of
 * the offered ticket (TLS 1.2 SessionTicket, TLS 1.3 pre_shared_key) and hands the connection to
 * the server holding that key. No ticket, an unknown key, not TLS or a malformed hello go to the
 * active key's server, which completes (or fails) the handshake normally.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import type tls from "node:tls";

import { ClientHelloReader, type ClientHelloAnswer } from "./client-hello-reader.ts";
import { KeyConsumer, type ConsumerOptions } from "./consumer.ts";
import type { ConsumerEvents, ConsumerStats } from "./events.ts";
import { KeyServerPool, type KeyServer, type KeyServerFactory } from "./key-servers.ts";
import { defaultLogger } from "./log.ts";
import { routeOutcomes, type ConsumerMetrics, type RouteOutcome } from "./metrics.ts";
import type { ServingState } from "./ring-clock.ts";
import type { RingSource } from "./ring-source.ts";
import { resolveSource, type SourceChoice } from "./source-choice.ts";
import type { Ring } from "../core/index.ts";

export interface RouterOptions extends ConsumerOptions {
  /** Builds the server of one key from its 48-byte ticketKeys (see KeyServerFactory). */
  createServer: KeyServerFactory;
  /** How long a client may take to send its ClientHello; default 5000 ms. */
  helloTimeoutMs?: number;
  /** Options of the listening net.Server (noDelay, keepAlive, ...). */
  serverOptions?: net.ServerOpts;
}

export type CreateRouterOptions = SourceChoice & RouterOptions;

export interface RouterEvents extends ConsumerEvents {
  /** A transient source failure (emitted only when listened to). */
  sourceError: [Error];
  /** As net.Server. */
  listening: [];
  /** As net.Server: after close(), once every connection has ended. */
  close: [];
  /** As net.Server (e.g. EADDRINUSE): unhandled, it throws like any server's. */
  error: [Error];
}

/** A key's server, as shown by keyServers(). */
export interface KeyServerInfo {
  keyId: string;
  state: ServingState;
  server: tls.Server;
}

type ListenArguments =
  | [port?: number, hostname?: string, backlog?: number, listeningListener?: () => void]
  | [port?: number, hostname?: string, listeningListener?: () => void]
  | [port?: number, listeningListener?: () => void]
  | [path: string, listeningListener?: () => void]
  | [options: net.ListenOptions, listeningListener?: () => void];

export class TicketKeyRouter extends EventEmitter<RouterEvents> {
  /** The listening socket (for anything this class does not forward). */
  readonly server: net.Server;
  /** Resolves once the first ring is in force; rejects when the source cannot start. */
  readonly ready: Promise<Ring>;
  readonly metrics: ConsumerMetrics;
  readonly #pool: KeyServerPool;
  readonly #reader: ClientHelloReader;
  readonly #consumer: KeyConsumer;
  readonly #outcomes: Record<RouteOutcome, { inc(): void }>;
  #closed = false;

  constructor(source: RingSource, options: RouterOptions & { ownsSource?: boolean }) {
    super();
    const log = options.log ?? defaultLogger();
    this.#pool = new KeyServerPool({
      factory: options.createServer,
      log,
      onSecureConnection: this.#onSecureConnection,
      onError: (error) => {
        this.#emitSourceError(error);
      },
    });
    this.#reader = new ClientHelloReader({
      timeoutMs: options.helloTimeoutMs ?? 5000,
      onHello: this.#route,
      onAbort: (_socket, why) => {
        this.#outcomes[why].inc();
      },
    });
    this.server = net.createServer(options.serverOptions ?? {}, this.#accept);
    this.server.on("listening", () => this.emit("listening"));
    this.server.on("close", () => this.emit("close"));
    this.server.on("error", (error) => this.emit("error", error));
    this.#consumer = new KeyConsumer(source, options.ownsSource ?? false, options, {
      apply: (view) => {
        this.#pool.apply(view);
      },
      ring: (event) => {
        if (this.listenerCount("ring") > 0) this.emit("ring", event);
      },
      rejected: (rejection) => {
        if (this.listenerCount("rejected") > 0) this.emit("rejected", rejection);
      },
      sourceError: (error) => {
        this.#emitSourceError(error);
      },
    });
    this.metrics = this.#consumer.metrics;
    const connections = this.metrics.routerConnections;
    this.#outcomes = Object.fromEntries(
      routeOutcomes.map((outcome) => [outcome, connections.labels({ outcome })]),
    ) as Record<RouteOutcome, { inc(): void }>;
    this.ready = this.#consumer.ready;
  }

  /** As net.Server.listen(). */
  listen(...args: ListenArguments): this {
    (this.server.listen as (...a: unknown[]) => net.Server).apply(this.server, args);
    return this;
  }

  /** As net.Server.address(). */
  address(): net.AddressInfo | string | null {
    return this.server.address();
  }

  /** Whether the router is listening. */
  get listening(): boolean {
    return this.server.listening;
  }

  /**
   * Stops accepting, stops following the ring (and an owned source) and closes every key's
   * server gracefully. `callback` runs once every connection has ended, as with net.Server.
   */
  close(callback?: (error?: Error) => void): this {
    if (!this.#closed) {
      this.#closed = true;
      this.#pool.closeAll();
      this.#consumer.stop().catch((error: unknown) => {
        this.#emitSourceError(error instanceof Error ? error : new Error(String(error)));
      });
    }
    this.server.close(callback);
    return this;
  }

  /** As net.Server.getConnections(): every accepted connection that has not ended. */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    this.server.getConnections(callback);
    return this;
  }

  ref(): this {
    this.server.ref();
    return this;
  }

  unref(): this {
    this.server.unref();
    return this;
  }

  /** The servers of the live keys: active first, then pending, then retired. */
  keyServers(): KeyServerInfo[] {
    return this.#pool.servers.map((entry) => ({ keyId: entry.id, state: entry.state, server: entry.server }));
  }

  /** Handshake counts (resumed / full, by key state), rejected updates, source errors. */
  stats(): ConsumerStats {
    return this.#consumer.stats();
  }

  readonly #accept = (socket: net.Socket): void => {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#reader.read(socket);
  };

  readonly #route = (socket: net.Socket, bytes: Buffer, answer: ClientHelloAnswer): void => {
    let target: KeyServer | undefined;
    let outcome: RouteOutcome;
    if (answer.kind === "ticket") {
      target = this.#pool.find(answer.keyName);
      outcome = target === undefined ? "unknown-key" : "ticket";
    } else {
      outcome = answer.kind;
    }
    target ??= this.#pool.active;
    if (target === undefined || this.#closed) {
      this.#outcomes["not-ready"].inc();
      socket.destroy();
      return;
    }
    this.#outcomes[outcome].inc();
    socket.unshift(bytes);
    target.server.emit("connection", socket);
  };

  readonly #onSecureConnection = (entry: KeyServer, socket: tls.TLSSocket): void => {
    const resumed = socket.isSessionReused();
    this.#consumer.handshake(entry.state, resumed);
    if (this.listenerCount("handshake") > 0) {
      this.emit("handshake", { resumed, keyId: entry.id, keyState: entry.state });
    }
  };

  #emitSourceError(error: Error): void {
    if (this.listenerCount("sourceError") > 0) this.emit("sourceError", error);
  }
}

/**
 * Multi-key mode: a router that serves every live key of the ring through servers built by
 * `createServer`. Listen on it like on any server (after `await router.ready`: a connection
 * that arrives before the first ring is closed).
 */
export function createRouter(options: CreateRouterOptions): TicketKeyRouter {
  const { source, owned } = resolveSource(options, { log: options.log, clock: options.clock });
  return new TicketKeyRouter(source, { ...options, ownsSource: owned });
}
