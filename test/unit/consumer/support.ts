/** Shared helpers of the library tests: rings, a fake clock, a certificate, TLS clients, logs. */
import assert from "node:assert/strict";
import type net from "node:net";
import { Writable } from "node:stream";
import tls from "node:tls";

import { findLeaks, keyNeedles } from "../../../harness/leaks.ts";
import { makeServerCert } from "../../../harness/tls/certs.ts";
import { pino, type Logger } from "pino";

import { nextRing, type Key, type Ring } from "../../../src/core/index.ts";
import { hour, seededRandom } from "../core/helpers.ts";

export { hour, minute, second } from "../core/helpers.ts";
export { FakeClock } from "../fake-clock.ts";

/** A fixed start instant for the rings of the tests. */
export const t0 = Date.UTC(2026, 10, 22, 10);

export const spec = { rotationIntervalMs: hour, retiredKeys: 1, suspend: false };

/** The rings a controller writes: generated at `start`, then rotated `rotations` times. */
export function ringHistory(rotations: number, start = t0, seed = "sidecar"): Ring[] {
  const random = seededRandom(seed);
  const rings = [nextRing({ previous: undefined, spec, now: start, random }).ring];
  for (let i = 1; i <= rotations; i++) {
    const previous = rings.at(-1);
    rings.push(nextRing({ previous, spec, now: start + i * hour + 1000, random }).ring);
  }
  return rings;
}

/** The key active at `now` in a ring (by the ring's own order). */
export function keyAt(ring: Ring, now: number): Key {
  const key = ring.keys.findLast((k) => k.activeFrom <= now);
  assert.ok(key, "a key is active");
  return key;
}

/** Every way key material could show up in text (harness/leaks.ts), in 10-character pieces. */
export function secretsOf(...rings: Ring[]): string[] {
  return keyNeedles(
    rings.flatMap((ring) => ring.keys),
    { window: 10 },
  );
}

export function assertNoKeyMaterial(text: string, secrets: readonly string[]): void {
  assert.deepEqual(findLeaks([text], secrets), [], "key material in the text");
}

/** A pino logger at debug level that keeps its lines, to check what the library logs. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { log: pino({ level: "debug" }, destination), lines };
}

let certificate: Promise<TestCredentials> | undefined;

/** Server credentials for localhost and 127.0.0.1 and the CA clients trust (made once per process). */
export interface TestCredentials {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

export function testCertificate(): Promise<TestCredentials> {
  certificate ??= makeServerCert("p256").then(({ key, cert, ca }) => ({ key, cert, ca }));
  return certificate;
}

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

export interface ClientResult {
  resumed: boolean;
  protocol: string | null;
  /** The session to resume next time (the last one the server sent). */
  session: Buffer | undefined;
  /** The first 16 bytes of the ticket the server issued on this connection, as hex. */
  ticketKeyName: string | undefined;
  /** What the server wrote. */
  reply: string;
}

/** One TLS connection: handshake, wait for the server's ticket, read the reply until the end. */
export function tlsClient(
  port: number,
  options: { version: TlsVersion; ca: Buffer; session?: Buffer | undefined },
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let ticketKeyName: string | undefined;
    let reply = "";
    let resumed = false;
    let protocol: string | null = null;
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: options.ca,
      minVersion: options.version,
      maxVersion: options.version,
      ...(options.session === undefined ? {} : { session: options.session }),
    });
    socket.setTimeout(5000, () => socket.destroy(new Error("client timed out")));
    socket.on("session", (data) => {
      session = data;
      const ticket = socket.getTLSTicket();
      if (ticket !== undefined) ticketKeyName = ticket.subarray(0, 16).toString("hex");
    });
    socket.on("secureConnect", () => {
      resumed = socket.isSessionReused();
      protocol = socket.getProtocol();
    });
    socket.on("data", (chunk: Buffer) => (reply += chunk.toString("utf8")));
    socket.on("error", reject);
    socket.on("close", () => {
      resolve({
        resumed,
        protocol,
        session: session ?? options.session,
        ticketKeyName,
        reply,
      });
    });
  });
}

/** The port of a listening server. */
export function portOf(server: { address(): net.AddressInfo | string | null }): number {
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return address.port;
}

/** Resolves once `predicate` holds, polling every 10 ms (fails after `timeoutMs`). */
export async function eventually(
  predicate: () => boolean,
  timeoutMs = 3000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `promise`, or a failure after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
