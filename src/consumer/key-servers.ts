/**
 * The router's servers: one tls / https / http2 server per live key (pending, active and
 * retired), each holding that one key, created from the user's factory as keys appear and
 * closed gracefully when they are gone (no new connection is routed to it; the connections it
 * has finish normally).
 */
import type tls from "node:tls";

import { keyId, renderNodeKey, type Key } from "../core/index.ts";
import type { Logger } from "./log.ts";
import { stateOf, type RingView, type ServingState } from "./ring-clock.ts";

/**
 * Builds the server for one key: pass `ticketKeys` to tls.createServer, https.createServer or
 * http2.createSecureServer (`{ ...options, ticketKeys }`). Called once per key.
 */
export type KeyServerFactory = (ticketKeys: Buffer, keyId: string) => tls.Server;

/** One key's server. */
export interface KeyServer {
  readonly key: Key;
  /** keyId(key). */
  readonly id: string;
  /** The key's state, updated at each state change. */
  state: ServingState;
  readonly server: tls.Server;
}

export interface KeyServerPoolOptions {
  factory: KeyServerFactory;
  log: Logger;
  /** Each handshake a key's server completes. */
  onSecureConnection: (entry: KeyServer, socket: tls.TLSSocket) => void;
  /** The factory failed for a key (that key is not served). */
  onError: (error: Error) => void;
}

export class KeyServerPool {
  readonly #options: KeyServerPoolOptions;
  /** The routable servers, in view order: active, pending..., retired... */
  #servers: KeyServer[] = [];
  #active: KeyServer | undefined;
  #closed = false;

  constructor(options: KeyServerPoolOptions) {
    this.#options = options;
  }

  /** The server of the key that encrypts: the target of every connection without a known ticket. */
  get active(): KeyServer | undefined {
    return this.#active;
  }

  /** The routable servers: active first, then pending, then retired. */
  get servers(): readonly KeyServer[] {
    return this.#servers;
  }

  /** The server holding the key named `name` (the first 16 bytes of a ticket). */
  find(name: Uint8Array): KeyServer | undefined {
    // At most retiredKeys + 2 (<= 12) servers: a scan of 16-byte compares, no allocation.
    for (const entry of this.#servers) {
      if (entry.key.name.equals(name)) return entry;
    }
    return undefined;
  }

  /** Creates the servers of new live keys and closes those of keys that are gone. */
  apply(view: RingView): void {
    if (this.#closed) return;
    const next: KeyServer[] = [];
    for (const key of view.live) {
      const entry =
        this.#servers.find((s) => s.key.name.equals(key.name)) ?? this.#create(key, stateOf(view, key));
      if (entry === undefined) continue;
      entry.state = stateOf(view, key);
      next.push(entry);
    }
    for (const entry of this.#servers) {
      if (!next.includes(entry)) this.#close(entry, "its key is gone");
    }
    this.#servers = next;
    const active = next.find((entry) => entry.key.name.equals(view.active.name));
    if (active === undefined) {
      this.#options.log.error(
        { activeKey: keyId(view.active) },
        "no server for the active key; new connections go to the newest server left",
      );
    }
    this.#active = active ?? next[0];
  }

  /** Closes every server (gracefully); nothing is created afterwards. */
  closeAll(): void {
    this.#closed = true;
    for (const entry of this.#servers) this.#close(entry, "the router is closing");
    this.#servers = [];
    this.#active = undefined;
  }

  #create(key: Key, state: ServingState): KeyServer | undefined {
    const id = keyId(key);
    let server: tls.Server;
    try {
      server = this.#options.factory(renderNodeKey(key), id);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#options.log.error({ keyId: id, err: message }, "createServer failed for a key");
      this.#options.onError(new Error(`createServer failed for key ${id}: ${message}`));
      return undefined;
    }
    const entry: KeyServer = { key, id, state, server };
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      this.#options.onSecureConnection(entry, socket);
    });
    // The server listens through the router. An https server starts its connection tracking on
    // 'listening' (headersTimeout / requestTimeout checks, closeIdleConnections on close()).
    server.emit("listening");
    this.#options.log.debug({ keyId: id, state }, "server created for a key");
    return entry;
  }

  #close(entry: KeyServer, why: string): void {
    this.#options.log.debug({ keyId: entry.id, why }, "closing the server of a key");
    // Never listening: close() only ends what the server tracks itself (https: idle keep-alive
    // connections; http2: sessions, after their streams). Its error (not running) is expected.
    entry.server.close(() => undefined);
  }
}
