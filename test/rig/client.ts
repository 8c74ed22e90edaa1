/**
 * Resumption clients: each reconnects in a loop through the balancer, offering the session it
 * got last time (TLS 1.2 or TLS 1.3), and records whether the server resumed it. Every replica
 * of the rig writes its id and closes, so one connection is one handshake.
 */
import { connect, type ConnectionOptions } from "node:tls";

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

export interface ClientOptions {
  port: number;
  host?: string;
  ca: Buffer;
  version: TlsVersion;
  /** stop when this returns true (checked between connections) */
  until: () => boolean;
  /** mean pause between connections, ms (randomised) */
  pauseMs?: number;
  onHandshake?: (h: Handshake) => void;
}

interface Held {
  session: Buffer;
  key: string | undefined;
}

const keyName = (ticket: Buffer | null | undefined): string | undefined =>
  ticket != null && ticket.length >= 16 ? ticket.subarray(0, 16).toString("hex") : undefined;

function once(
  opts: ConnectionOptions,
  offered: Held | undefined,
): Promise<{ handshake: Handshake; issued?: Held }> {
  return new Promise((resolve) => {
    let issued: Held | undefined;
    let replica = "";
    let resumed = false;
    let done = false;
    const socket = connect(offered ? { ...opts, session: offered.session } : opts);
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      socket.destroy();
      const handshake: Handshake = { at: Date.now(), offered: offered !== undefined, resumed, replica };
      if (offered?.key !== undefined) handshake.offeredKey = offered.key;
      if (issued?.key !== undefined) handshake.issuedKey = issued.key;
      if (error !== undefined) handshake.error = error;
      resolve(issued === undefined ? { handshake } : { handshake, issued });
    };
    socket.setTimeout(5000, () => finish("timeout"));
    socket.on("session", (session: Buffer) => (issued = { session, key: keyName(socket.getTLSTicket()) }));
    socket.on("secureConnect", () => (resumed = socket.isSessionReused()));
    socket.on("data", (d: Buffer) => (replica += d.toString()));
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", (err: Error) => finish(err.message));
  });
}

/** One client's loop. Resolves with every handshake it made. */
export async function runClient(options: ClientOptions): Promise<Handshake[]> {
  const results: Handshake[] = [];
  let held: Held | undefined;
  const connection: ConnectionOptions = {
    host: options.host ?? "127.0.0.1",
    port: options.port,
    servername: "localhost",
    ca: options.ca,
    minVersion: options.version,
    maxVersion: options.version,
  };
  while (!options.until()) {
    const { handshake, issued } = await once(connection, held);
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
