/**
 * TLS ClientHello inspection for the multi-key router.
 *
 * The router reads the first bytes of a TCP connection and must hand it to the TLS server that
 * holds the key which encrypted the client's session ticket. Every ticket a Node/OpenSSL server
 * issues starts with the 16-byte key name (key_name | IV | encrypted state | HMAC), in TLS 1.2
 * inside the SessionTicket extension (35) and in TLS 1.3 as a pre_shared_key (41) identity.
 *
 * Pure and allocation-light: a ClientHello carried by one record is parsed in place; one
 * split over several handshake records is copied, once complete, into a reassembly buffer
 * allocated once. A call allocates only its result (and a found ticket's 16-byte key name).
 * Each call is O(buf.length), never throws and never asks for more than
 * MAX_CLIENT_HELLO_BYTES in all.
 */

/**
 * The most bytes the parser reads: the records carrying the ClientHello, 5-byte record headers
 * included. A caller never needs to buffer more: at or beyond this many bytes the answer is final.
 */
export const MAX_CLIENT_HELLO_BYTES = 16384;

/** Length of the key name at the start of every ticket. */
export const TICKET_KEY_NAME_BYTES = 16;

export type ClientHelloResult =
  /**
   * The bytes so far are a valid prefix. `needed` is a lower bound on how many more bytes must
   * arrive before the answer can change (the caller may wait for at least that many).
   */
  | { kind: "need-more"; needed: number }
  /** A session ticket was found; `keyName` is a copy of its first 16 bytes. */
  | { kind: "ticket"; keyName: Uint8Array }
  /** A complete, well-formed ClientHello without a usable ticket. */
  | { kind: "no-ticket" }
  /** The connection does not start with a TLS handshake record (or is an SSLv2-style hello). */
  | { kind: "not-tls"; reason: string }
  /** A TLS handshake that is not a well-formed ClientHello, or one larger than the maximum. */
  | { kind: "malformed"; reason: string };

const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
const MAX_RECORD_FRAGMENT = 16384;
const EXT_SESSION_TICKET = 35;
const EXT_PRE_SHARED_KEY = 41;

const NO_TICKET: ClientHelloResult = Object.freeze({ kind: "no-ticket" });

function needMore(needed: number): ClientHelloResult {
  return { kind: "need-more", needed };
}

function malformed(reason: string): ClientHelloResult {
  return { kind: "malformed", reason };
}

function notTls(reason: string): ClientHelloResult {
  return { kind: "not-tls", reason };
}

// Every call site has checked the bounds; `?? 0` only satisfies noUncheckedIndexedAccess.
function u8(b: Uint8Array, i: number): number {
  return b[i] ?? 0;
}

function u16(b: Uint8Array, i: number): number {
  return ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
}

function describeFirstByte(b0: number): string {
  if ((b0 & 0x80) !== 0) return "SSLv2-style record header (unsupported)";
  if (b0 >= 20 && b0 <= 24) return `first record has content type ${b0}, not handshake (22)`;
  return `not a TLS record (first byte 0x${b0.toString(16).padStart(2, "0")})`;
}

/**
 * Inspects the first bytes of a connection. Call again with the longer buffer after
 * `need-more`; every other answer is final.
 */
export function inspectClientHello(buf: Uint8Array): ClientHelloResult {
  const n = buf.length;
  if (n === 0) return needMore(1);
  const b0 = u8(buf, 0);
  if (b0 !== CONTENT_TYPE_HANDSHAKE) return notTls(describeFirstByte(b0));
  if (n < RECORD_HEADER_BYTES) return needMore(RECORD_HEADER_BYTES - n);
  if (u8(buf, 1) !== 3) return notTls(`record version major ${u8(buf, 1)} is not 3`);

  // Fast path: the whole ClientHello in the first record.
  const firstLen = u16(buf, 3);
  if (firstLen >= HANDSHAKE_HEADER_BYTES && firstLen <= MAX_RECORD_FRAGMENT && n >= 9) {
    const bodyLen = (u8(buf, 6) << 16) | u16(buf, 7);
    if (u8(buf, 5) === HANDSHAKE_CLIENT_HELLO && HANDSHAKE_HEADER_BYTES + bodyLen <= firstLen) {
      if (RECORD_HEADER_BYTES + firstLen > MAX_CLIENT_HELLO_BYTES) {
        return malformed(`ClientHello records exceed ${MAX_CLIENT_HELLO_BYTES} bytes`);
      }
      const end = 9 + bodyLen;
      if (n < end) return needMore(end - n);
      return parseClientHelloBody(buf, 9, end);
    }
  }
  return inspectRecords(buf);
}

/**
 * The general path: walks the handshake records, validating framing as far as bytes are
 * available, and reassembles the ClientHello once all of it has arrived.
 */
function inspectRecords(buf: Uint8Array): ClientHelloResult {
  const n = buf.length;
  let pos = 0; // start of the current record
  let hsHave = 0; // handshake message bytes seen, header included
  let hsTotal = -1; // header + body, once the 4-byte header is known
  let bodyLen = 0;
  let records = 0;

  for (;;) {
    if (n < pos + RECORD_HEADER_BYTES) return needMore(pos + RECORD_HEADER_BYTES - n);
    const type = u8(buf, pos);
    const major = u8(buf, pos + 1);
    const len = u16(buf, pos + 3);
    if (type !== CONTENT_TYPE_HANDSHAKE) {
      return malformed(`record of content type ${type} inside the ClientHello`);
    }
    if (major !== 3) return malformed(`record version major ${major} is not 3`);
    if (len === 0) return malformed("empty handshake record");
    if (len > MAX_RECORD_FRAGMENT) return malformed(`record length ${len} exceeds 2^14`);
    const fragStart = pos + RECORD_HEADER_BYTES;
    const recordEnd = fragStart + len;
    if (recordEnd > MAX_CLIENT_HELLO_BYTES) {
      return malformed(`ClientHello records exceed ${MAX_CLIENT_HELLO_BYTES} bytes`);
    }
    records++;

    // The handshake header may itself be split across records: take its bytes one by one.
    let i = fragStart;
    while (hsTotal < 0 && i < recordEnd) {
      // The type byte is checked alone; the length once the header (or this record) is complete.
      if (i >= n)
        return needMore(hsHave === 0 ? 1 : Math.min(HANDSHAKE_HEADER_BYTES - hsHave, recordEnd - i));
      const byte = u8(buf, i);
      if (hsHave === 0) {
        if (byte !== HANDSHAKE_CLIENT_HELLO) {
          return malformed(`first handshake message has type ${byte}, not ClientHello (1)`);
        }
      } else {
        bodyLen = (bodyLen << 8) | byte;
      }
      hsHave++;
      i++;
      if (hsHave === HANDSHAKE_HEADER_BYTES) hsTotal = HANDSHAKE_HEADER_BYTES + bodyLen;
    }

    if (hsTotal >= 0) {
      const remaining = hsTotal - hsHave;
      if (remaining <= recordEnd - i) {
        // The message ends inside this record.
        const msgEnd = i + remaining;
        if (n < msgEnd) return needMore(msgEnd - n);
        if (records === 1) return parseClientHelloBody(buf, fragStart + HANDSHAKE_HEADER_BYTES, msgEnd);
        return parseClientHelloBody(reassemble(buf, bodyLen), 0, bodyLen);
      }
      hsHave += recordEnd - i;
    }

    // The message continues in a further record, which needs a header and at least one byte.
    const stillNeeded = hsTotal >= 0 ? hsTotal - hsHave : HANDSHAKE_HEADER_BYTES - hsHave;
    if (recordEnd + RECORD_HEADER_BYTES + stillNeeded > MAX_CLIENT_HELLO_BYTES) {
      return malformed(`ClientHello records exceed ${MAX_CLIENT_HELLO_BYTES} bytes`);
    }
    if (n < recordEnd) return needMore(recordEnd + RECORD_HEADER_BYTES - n);
    pos = recordEnd;
  }
}

/**
 * Reassembly space, allocated on first use. Parsing is synchronous and every result is copied
 * out of it, so one buffer serves every call; a body always fits, since the records carrying it
 * are at most MAX_CLIENT_HELLO_BYTES long.
 */
let scratch: Uint8Array | undefined;

/**
 * Copies the ClientHello body out of records already validated by inspectRecords.
 */
function reassemble(buf: Uint8Array, bodyLen: number): Uint8Array {
  scratch ??= new Uint8Array(MAX_CLIENT_HELLO_BYTES);
  const body = scratch;
  let skip = HANDSHAKE_HEADER_BYTES; // handshake header bytes still to drop
  let have = 0;
  let pos = 0;
  while (have < bodyLen) {
    const len = u16(buf, pos + 3);
    let start = pos + RECORD_HEADER_BYTES;
    const end = start + len;
    const dropped = Math.min(skip, len);
    skip -= dropped;
    start += dropped;
    const take = Math.min(end - start, bodyLen - have);
    body.set(new Uint8Array(buf.buffer, buf.byteOffset + start, take), have);
    have += take;
    pos = end;
  }
  return body;
}

/**
 * Parses a complete ClientHello body in b[start, end):
 *   legacy_version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
 *   compression_methods<1..2^8-1> [extensions<0..2^16-1>]
 */
function parseClientHelloBody(b: Uint8Array, start: number, end: number): ClientHelloResult {
  let p = start + 2 + 32;
  if (p + 1 > end) return malformed("ClientHello truncated before session_id");
  const sidLen = u8(b, p);
  if (sidLen > 32) return malformed(`session_id of ${sidLen} bytes`);
  p += 1 + sidLen;
  if (p + 2 > end) return malformed("ClientHello truncated before cipher_suites");
  const csLen = u16(b, p);
  if (csLen < 2 || (csLen & 1) !== 0) return malformed(`cipher_suites of ${csLen} bytes`);
  p += 2 + csLen;
  if (p + 1 > end) return malformed("ClientHello truncated before compression_methods");
  const cmLen = u8(b, p);
  if (cmLen < 1) return malformed("empty compression_methods");
  p += 1 + cmLen;
  if (p > end) return malformed("compression_methods overrun the ClientHello");
  if (p === end) return NO_TICKET; // no extensions (allowed before TLS 1.3)
  if (p + 2 > end) return malformed("ClientHello truncated inside extensions length");
  const extLen = u16(b, p);
  p += 2;
  if (p + extLen !== end) return malformed("extensions length does not match the ClientHello");

  let ticketAt = -1; // offset of a usable SessionTicket extension's data
  let pskAt = -1; // offset of a usable pre_shared_key identity
  let seenTicket = false;
  let seenPsk = false;
  while (p < end) {
    if (p + 4 > end) return malformed("truncated extension header");
    const type = u16(b, p);
    const len = u16(b, p + 2);
    const data = p + 4;
    p = data + len;
    if (p > end) return malformed(`extension ${type} overruns the extensions block`);
    if (type === EXT_SESSION_TICKET) {
      if (seenTicket) return malformed("duplicate session_ticket extension");
      seenTicket = true;
      if (len >= TICKET_KEY_NAME_BYTES) ticketAt = data;
    } else if (type === EXT_PRE_SHARED_KEY) {
      if (seenPsk) return malformed("duplicate pre_shared_key extension");
      seenPsk = true;
      const found = findPskIdentity(b, data, p);
      if (found === -2) return malformed("malformed pre_shared_key extension");
      pskAt = found;
    }
  }
  const at = pskAt >= 0 ? pskAt : ticketAt;
  if (at < 0) return NO_TICKET;
  // A 16-byte copy: the result never pins the caller's buffer (nor the reassembly space).
  // (A loop, not subarray(): a Buffer's subarray goes through its species constructor.)
  const keyName = new Uint8Array(TICKET_KEY_NAME_BYTES);
  for (let i = 0; i < TICKET_KEY_NAME_BYTES; i++) keyName[i] = u8(b, at + i);
  return { kind: "ticket", keyName };
}

/**
 * OfferedPsks: identities<7..2^16-1> (identity<1..2^16-1>, obfuscated_ticket_age(4)),
 * binders<33..2^16-1>. Returns the offset of the first identity of at least 16 bytes, -1 when
 * there is none, -2 when the extension is malformed.
 */
function findPskIdentity(b: Uint8Array, start: number, end: number): number {
  if (start + 2 > end) return -2;
  const idsEnd = start + 2 + u16(b, start);
  if (idsEnd > end || idsEnd === start + 2) return -2;
  let found = -1;
  let p = start + 2;
  while (p < idsEnd) {
    if (p + 2 > idsEnd) return -2;
    const idLen = u16(b, p);
    const id = p + 2;
    p = id + idLen + 4;
    if (idLen === 0 || p > idsEnd) return -2;
    if (found < 0 && idLen >= TICKET_KEY_NAME_BYTES) found = id;
  }
  if (idsEnd + 2 > end) return -2;
  const bindersLen = u16(b, idsEnd);
  if (bindersLen === 0 || idsEnd + 2 + bindersLen !== end) return -2;
  return found;
}
