/**
 * Resumption clients: each reconnects in a loop through the balancer, offering the session it
 * got last time (TLS 1.2 or TLS 1.3), and records whether the server resumed it. Every replica
 * of the rig answers with its id and closes, so one connection is one handshake: the Node
 * replicas and HAProxy's backend write it at once, nginx (which speaks HTTP) in the body of its
 * reply to the `request` the client sends after the handshake.
 */
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

export interface Handshake {
  /** when the handshake finished (epoch ms) */
  at: number;
  /** a session was offered (a reconnection) */
  offered: boolean;
  /** the key name (hex, the ticket's first 16 bytes) of the ticket offered */
  offeredKey?: string;
  resumed: boolean;
  /** the replica that answered */
  replica: string;
  /** the key name of the newest ticket the server issued on this connection, if any */
  issuedKey?: string;
  error?: string;
}

/** One reconnecting client's loop (this Node client, or OpenSSL's: openssl-client.ts). */
export interface LoopOptions {
  port: number;
  host?: string;
  version: TlsVersion;
  /** stop when this returns true (checked between connections) */
  until: () => boolean;
  /** what to send after each handshake (nginx: an HTTP request); default nothing */
  request?: string;
  /** mean pause between connections, ms (randomised) */
  pauseMs?: number;
  onHandshake?: (h: Handshake) => void;
}

export interface ClientOptions extends LoopOptions {
  ca: Buffer;
}

interface Held {
  session: Buffer;
  key: string | undefined;
}

const keyName = (ticket: Buffer | null | undefined): string | undefined =>
  ticket != null && ticket.length >= 16 ? ticket.subarray(0, 16).toString("hex") : undefined;

/** The options of a connection to the rig's servers (certificate for localhost, one TLS version). */
export function connectionOptions(options: {
  port: number;
  host?: string;
  ca: Buffer;
  version: TlsVersion;
}): ConnectionOptions {
  return {
    host: options.host ?? "127.0.0.1",
    port: options.port,
    servername: "localhost",
    ca: options.ca,
    minVersion: options.version,
    maxVersion: options.version,
  };
}

/** Ends a connection attempt with `finish`: on a 5 s timeout, the server's end or close, an error. */
export function finishOnClose(socket: TLSSocket, finish: (error?: string) => void): void {
  socket.setTimeout(5000, () => finish("timeout"));
  socket.on("end", () => finish());
  socket.on("close", () => finish());
  socket.on("error", (err: Error) => finish(err.message));
}

function once(
  opts: ConnectionOptions,
  request: string,
  offered: Held | undefined,
): Promise<{ handshake: Handshake; issued?: Held }> {
  return new Promise((resolve) => {
    let issued: Held | undefined;
    let reply = "";
    let resumed = false;
    let done = false;
    const socket = connect(offered ? { ...opts, session: offered.session } : opts);
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      socket.destroy();
      // An HTTP reply (nginx): the replica's id is its body.
      const body = reply.includes("\r\n\r\n") ? reply.slice(reply.indexOf("\r\n\r\n") + 4) : reply;
      const handshake: Handshake = { at: Date.now(), offered: offered !== undefined, resumed, replica: body };
      if (offered?.key !== undefined) handshake.offeredKey = offered.key;
      if (issued?.key !== undefined) handshake.issuedKey = issued.key;
      if (error !== undefined) handshake.error = error;
      resolve(issued === undefined ? { handshake } : { handshake, issued });
    };
    finishOnClose(socket, finish);
    socket.on("session", (session: Buffer) => (issued = { session, key: keyName(socket.getTLSTicket()) }));
    socket.on("secureConnect", () => {
      resumed = socket.isSessionReused();
      if (request !== "") socket.write(request);
    });
    socket.on("data", (d: Buffer) => {
      reply += d.toString();
      // A TLS 1.2 resumption whose ticket the server renewed (nginx and HAProxy renew a ticket
      // under a decrypt-only key; a Node server never does): OpenSSL (under Node) emits no
      // 'session' for it, but the connection's session holds the new ticket; keep it, as
      // browsers do.
      if (issued !== undefined || !resumed) return;
      const ticket = keyName(socket.getTLSTicket());
      if (ticket !== undefined && ticket !== offered?.key) {
        const session = socket.getSession();
        if (session !== undefined) issued = { session, key: ticket };
      }
    });
  });
}

/** One client's loop. Resolves with every handshake it made. */
export async function runClient(options: ClientOptions): Promise<Handshake[]> {
  const results: Handshake[] = [];
  let held: Held | undefined;
  const connection = connectionOptions(options);
  while (!options.until()) {
    const { handshake, issued } = await once(connection, options.request ?? "", held);
    // Keep the newest session: a resumption that issues no new ticket keeps the old one usable.
    if (issued !== undefined) held = issued;
    results.push(handshake);
    options.onHandshake?.(handshake);
    // A random pause (mean pauseMs) decorrelates the clients, so the round-robin balancer
    // sends each one to a replica that is, for that client, as good as random.
    if (options.pauseMs) await new Promise((r) => setTimeout(r, Math.random() * 2 * (options.pauseMs ?? 0)));
  }
  return results;
}

/** `count` client loops at once (runClient); resolves with the handshakes of them all. */
export async function runClients(count: number, options: ClientOptions): Promise<Handshake[]> {
  return (await Promise.all(Array.from({ length: count }, () => runClient(options)))).flat();
}

export interface Summary {
  handshakes: number;
  reconnections: number;
  resumed: number;
  full: number;
  errors: number;
  /** resumed / reconnections */
  rate: number;
}

export function summarize(handshakes: Handshake[]): Summary {
  const reconnections = handshakes.filter((h) => h.offered && !h.error);
  const resumed = reconnections.filter((h) => h.resumed).length;
  return {
    handshakes: handshakes.length,
    reconnections: reconnections.length,
    resumed,
    full: handshakes.filter((h) => !h.resumed && !h.error).length,
    errors: handshakes.filter((h) => h.error).length,
    rate: reconnections.length === 0 ? 0 : resumed / reconnections.length,
  };
}

export const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;
