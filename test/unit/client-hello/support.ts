/** Fixtures, builders and an independent reference parser for the ClientHello tests. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { MAX_CLIENT_HELLO_BYTES, type ClientHelloResult } from "../../../src/core/client-hello.ts";

export const fixtureDir = join(import.meta.dirname, "../../fixtures/client-hello");

export interface Fixture {
  file: string;
  client: string;
  protocol: string;
  resumed: boolean;
  records: number;
  issuedTicketKeyName: string | null;
  serverKeyName: string;
  expected: { kind: "no-ticket" } | { kind: "ticket"; keyName: string };
  bytes: Uint8Array;
}

export function loadFixtures(): Fixture[] {
  const manifest = JSON.parse(readFileSync(join(fixtureDir, "fixtures.json"), "utf8")) as Omit<
    Fixture,
    "bytes"
  >[];
  return manifest.map((entry) => ({
    ...entry,
    bytes: Uint8Array.from(
      Buffer.from(readFileSync(join(fixtureDir, entry.file), "utf8").replace(/\s/g, ""), "hex"),
    ),
  }));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** A comparable form of a result: the kind, and the key name as hex. */
export function summary(result: ClientHelloResult): string {
  if (result.kind === "ticket") return `ticket:${hex(result.keyName)}`;
  if (result.kind === "need-more") return "need-more";
  return result.kind;
}

export function expectedSummary(fixture: Fixture): string {
  return fixture.expected.kind === "ticket" ? `ticket:${fixture.expected.keyName}` : "no-ticket";
}

/** The handshake message (header included) carried by a fixture's records. */
export function handshakeMessage(records: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (pos + 5 <= records.length) {
    const len = ((records[pos + 3] ?? 0) << 8) | (records[pos + 4] ?? 0);
    parts.push(records.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
  }
  return concat(parts);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Wraps a handshake message in handshake records whose fragments take the given sizes in turn. */
export function reRecord(message: Uint8Array, sizes: readonly number[], version = 0x0301): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < message.length; i++) {
    const size = Math.min(sizes[i % sizes.length] ?? 1, message.length - at);
    parts.push(new Uint8Array([22, version >> 8, version & 0xff, size >> 8, size & 0xff]));
    parts.push(message.subarray(at, at + size));
    at += size;
  }
  return concat(parts);
}

export function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

export interface HelloParts {
  sessionId?: number[];
  cipherSuites?: number[];
  compression?: number[];
  /** undefined: no extensions block at all. */
  extensions?: { type: number; data: number[] }[];
}

/** A ClientHello handshake message (header included) built from parts. */
export function clientHello(parts: HelloParts = {}): Uint8Array {
  const sessionId = parts.sessionId ?? [];
  const suites = parts.cipherSuites ?? [0x13, 0x01, 0xc0, 0x2f];
  const compression = parts.compression ?? [0];
  const body = [0x03, 0x03, ...new Array<number>(32).fill(0xaa), sessionId.length, ...sessionId];
  body.push(...u16(suites.length), ...suites, compression.length, ...compression);
  if (parts.extensions) {
    const exts = parts.extensions.flatMap((e) => [...u16(e.type), ...u16(e.data.length), ...e.data]);
    body.push(...u16(exts.length), ...exts);
  }
  return new Uint8Array([
    1,
    (body.length >> 16) & 0xff,
    (body.length >> 8) & 0xff,
    body.length & 0xff,
    ...body,
  ]);
}

/** pre_shared_key extension data: the identities in order, by default one 32-byte binder each. */
export function pskData(identities: number[][], binderCount = identities.length): number[] {
  const ids = identities.flatMap((id) => [...u16(id.length), ...id, 0, 0, 0, 0]);
  const binders = Array.from({ length: binderCount }, () => [32, ...new Array<number>(32).fill(0xbb)]).flat();
  return [...u16(ids.length), ...ids, ...u16(binders.length), ...binders];
}

export function ticketBytes(keyNameByte: number, length = 64): number[] {
  return Array.from({ length }, (_, i) => (i < 16 ? keyNameByte : i & 0xff));
}

/** One record holding the whole message. */
export function record(message: Uint8Array): Uint8Array {
  return reRecord(message, [message.length || 1]);
}

const KINDS = new Set(["need-more", "ticket", "no-ticket", "not-tls", "malformed"]);

/** What every answer must satisfy, whatever the input. */
export function assertWellFormedResult(result: ClientHelloResult, input: Uint8Array): void {
  assert.ok(KINDS.has(result.kind), `unknown kind ${result.kind}`);
  switch (result.kind) {
    case "need-more":
      assert.ok(Number.isInteger(result.needed) && result.needed >= 1, `needed ${result.needed}`);
      assert.ok(input.length < MAX_CLIENT_HELLO_BYTES, `need-more at ${input.length} bytes`);
      break;
    case "ticket":
      assert.equal(result.keyName.length, 16);
      assert.equal(result.keyName.buffer.byteLength, 16, "key name must not pin a larger buffer");
      break;
    case "not-tls":
    case "malformed":
      assert.ok(typeof result.reason === "string" && result.reason.length > 0 && result.reason.length < 200);
      break;
    case "no-ticket":
      break;
  }
}

/**
 * An independent reference: straightforward, allocation-happy, exception-driven. It sees the
 * whole input and decides what a complete answer would be, or "need-more".
 */
export function referenceSummary(buf: Uint8Array): string {
  if (buf.length === 0) return "need-more";
  if (buf[0] !== 22) return "not-tls";
  if (buf.length < 5) return "need-more";
  if (buf[1] !== 3) return "not-tls";
  const b = Buffer.from(buf);
  const message: number[] = [];
  let pos = 0;
  for (;;) {
    if (pos + 5 > b.length) return "need-more";
    const len = b.readUInt16BE(pos + 3);
    if (b[pos] !== 22 || b[pos + 1] !== 3 || len === 0 || len > 16384) return "malformed";
    if (pos + 5 + len > MAX_CLIENT_HELLO_BYTES) return "malformed";
    const fragment = b.subarray(pos + 5, Math.min(pos + 5 + len, b.length));
    const afterRecord = message.length + len; // handshake bytes once this record is all here
    for (const byte of fragment) message.push(byte);
    if (message.length >= 1 && message[0] !== 1) return "malformed";
    let stillNeeded: number;
    if (afterRecord < 4) {
      stillNeeded = 4 - afterRecord;
    } else if (message.length < 4) {
      return "need-more";
    } else {
      const total = 4 + Buffer.from(message.slice(1, 4)).readUIntBE(0, 3);
      if (afterRecord >= total) {
        return message.length >= total ? referenceBody(Buffer.from(message.slice(4, total))) : "need-more";
      }
      stillNeeded = total - afterRecord;
    }
    // More records must follow, and the whole stream has to fit.
    if (pos + 5 + len + 5 + stillNeeded > MAX_CLIENT_HELLO_BYTES) return "malformed";
    if (fragment.length < len) return "need-more";
    pos += 5 + len;
  }
}

class Reader {
  private at = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  get left(): number {
    return this.b.length - this.at;
  }
  bytes(n: number): Buffer {
    if (n > this.left) throw new Error("short");
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8(): number {
    return this.bytes(1).readUInt8(0);
  }
  u16(): number {
    return this.bytes(2).readUInt16BE(0);
  }
  vector8(): Buffer {
    return this.bytes(this.u8());
  }
  vector16(): Buffer {
    return this.bytes(this.u16());
  }
}

function referenceBody(body: Buffer): string {
  try {
    const r = new Reader(body);
    r.bytes(34);
    if (r.vector8().length > 32) return "malformed";
    const suites = r.vector16();
    if (suites.length < 2 || suites.length % 2 === 1) return "malformed";
    if (r.vector8().length < 1) return "malformed";
    if (r.left === 0) return "no-ticket";
    const exts = new Reader(r.vector16());
    if (r.left !== 0) return "malformed";
    const seen = new Map<number, Buffer>();
    while (exts.left > 0) {
      const type = exts.u16();
      const data = exts.vector16();
      if ((type === 35 || type === 41) && seen.has(type)) return "malformed";
      seen.set(type, data);
    }
    let psk: Buffer | undefined;
    const pskExt = seen.get(41);
    if (pskExt) {
      const pr = new Reader(pskExt);
      const ids = new Reader(pr.vector16());
      if (ids.left === 0) return "malformed";
      while (ids.left > 0) {
        const id = ids.vector16();
        ids.bytes(4);
        if (id.length === 0) return "malformed";
        if (!psk && id.length >= 16) psk = id;
      }
      const binders = pr.vector16();
      if (binders.length === 0 || pr.left !== 0) return "malformed";
    }
    const ticket = seen.get(35);
    const chosen = psk ?? (ticket && ticket.length >= 16 ? ticket : undefined);
    return chosen ? `ticket:${chosen.subarray(0, 16).toString("hex")}` : "no-ticket";
  } catch {
    return "malformed";
  }
}
