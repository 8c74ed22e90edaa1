/**
 * Property tests: random bytes, generated ClientHellos, and mutations of the captured ones.
 * Whatever the input: no exception, a well-formed answer that agrees with the independent
 * reference parser, answers that are final once given, a `needed` that never overshoots, no
 * need-more at or beyond the size limit, and work that stays linear.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import { inspectClientHello, MAX_CLIENT_HELLO_BYTES } from "../../../src/core/client-hello.ts";
import {
  assertWellFormedResult,
  clientHello,
  concat,
  handshakeMessage,
  hex,
  loadFixtures,
  pskData,
  reRecord,
  referenceSummary,
  summary,
  u16,
} from "./support.ts";

const fixtures = loadFixtures();

/** Calls the parser on every prefix; checks finality and the `needed` lower bound. */
function checkPrefixes(bytes: Uint8Array): string {
  let finalAt = -1;
  let final = "";
  let mustWaitUntil = 0;
  for (let k = 0; k <= bytes.length; k++) {
    const prefix = bytes.subarray(0, k);
    const result = inspectClientHello(prefix);
    assertWellFormedResult(result, prefix);
    const s = summary(result);
    if (finalAt >= 0) {
      assert.equal(s, final, `answer changed from ${final} (at ${finalAt}) to ${s} at ${k}`);
    } else if (result.kind === "need-more") {
      mustWaitUntil = Math.max(mustWaitUntil, k + result.needed);
    } else {
      assert.ok(k >= mustWaitUntil, `answered at ${k} though needed promised ${mustWaitUntil}`);
      finalAt = k;
      final = s;
    }
  }
  return finalAt >= 0 ? final : "need-more";
}

function checkAgainstReference(bytes: Uint8Array, prefixes: number): void {
  assert.equal(summary(inspectClientHello(bytes)), referenceSummary(bytes));
  for (let i = 1; i <= prefixes; i++) {
    const cut = Math.floor((bytes.length * i) / (prefixes + 1));
    const prefix = bytes.subarray(0, cut);
    assert.equal(summary(inspectClientHello(prefix)), referenceSummary(prefix), `prefix of ${cut}`);
  }
}

/** Where the length fields of a ClientHello message are: [offset, size]; as far as it parses. */
function lengthFields(message: Uint8Array): [number, number][] {
  const fields: [number, number][] = [[1, 3]];
  try {
    collectLengthFields(Buffer.from(message), fields);
  } catch {
    // A message already corrupted by an earlier mutation: the fields found so far.
  }
  return fields;
}

function collectLengthFields(b: Buffer, fields: [number, number][]): void {
  let p = 4 + 34;
  fields.push([p, 1]);
  p += 1 + b.readUInt8(p);
  fields.push([p, 2]);
  p += 2 + b.readUInt16BE(p);
  fields.push([p, 1]);
  p += 1 + b.readUInt8(p);
  if (p >= b.length) return;
  fields.push([p, 2]);
  p += 2;
  while (p + 4 <= b.length) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    fields.push([p + 2, 2]);
    if (type === 41) {
      let q = p + 4;
      const idsEnd = q + 2 + b.readUInt16BE(q);
      fields.push([q, 2]);
      q += 2;
      while (q < idsEnd) {
        fields.push([q, 2]);
        q += 2 + b.readUInt16BE(q) + 4;
      }
      fields.push([idsEnd, 2]);
    }
    p += 4 + len;
  }
}

/** The fragment sizes of a fixture's records. */
function recordSizes(records: Uint8Array): number[] {
  const sizes: number[] = [];
  for (let pos = 0; pos + 5 <= records.length;) {
    const len = ((records[pos + 3] ?? 0) << 8) | (records[pos + 4] ?? 0);
    sizes.push(len);
    pos += 5 + len;
  }
  return sizes;
}

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number }
  | { kind: "length"; field: number; delta: number; absolute: boolean };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    kind: fc.constant("length" as const),
    field: fc.nat(),
    delta: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.nat(0xffffff)),
    absolute: fc.boolean(),
  }),
);

function applyMutation(
  message: Uint8Array,
  records: Uint8Array,
  m: Mutation,
): { message: Uint8Array; records: Uint8Array } {
  switch (m.kind) {
    case "flip": {
      const out = Uint8Array.from(records);
      const at = m.at % out.length;
      out[at] = (out[at] ?? 0) ^ (1 << m.bit);
      return { message, records: out };
    }
    case "insert": {
      const at = m.at % (records.length + 1);
      return { message, records: concat([records.subarray(0, at), m.bytes, records.subarray(at)]) };
    }
    case "delete": {
      const at = m.at % records.length;
      return { message, records: concat([records.subarray(0, at), records.subarray(at + m.count)]) };
    }
    case "length": {
      // Corrupt one length field of the handshake message, then re-record it as before.
      const fields = lengthFields(message);
      const [offset, size] = fields[m.field % fields.length] ?? [1, 3];
      const out = Uint8Array.from(message);
      let value = 0;
      for (let i = 0; i < size; i++) value = value * 256 + (out[offset + i] ?? 0);
      value = m.absolute ? m.delta : value + m.delta;
      value = ((value % 256 ** size) + 256 ** size) % 256 ** size;
      for (let i = size - 1; i >= 0; i--) {
        out[offset + i] = value & 0xff;
        value = Math.floor(value / 256);
      }
      return { message: out, records: reRecord(out, recordSizes(records), 0x0301) };
    }
  }
}

describe("fuzz", () => {
  it("random bytes: well-formed, final, agreeing with the reference", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        checkPrefixes(bytes);
        checkAgainstReference(bytes, 3);
      }),
      { numRuns: 500 },
    );
  });

  it("random bytes behind a plausible record and handshake header", () => {
    const header = fc.record({
      minor: fc.integer({ min: 0, max: 4 }),
      recordLength: fc.oneof(fc.integer({ min: 0, max: 700 }), fc.nat(0xffff)),
      hsLength: fc.oneof(fc.integer({ min: 0, max: 700 }), fc.nat(0xffffff)),
    });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 800 }), (h, rest) => {
        const bytes = concat([
          new Uint8Array([
            22,
            3,
            h.minor,
            ...u16(h.recordLength),
            1,
            h.hsLength >> 16,
            (h.hsLength >> 8) & 0xff,
            h.hsLength & 0xff,
          ]),
          rest,
        ]);
        checkPrefixes(bytes);
        checkAgainstReference(bytes, 3);
      }),
      { numRuns: 400 },
    );
  });

  it("large random inputs never ask for more at or beyond the limit", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: MAX_CLIENT_HELLO_BYTES, maxLength: MAX_CLIENT_HELLO_BYTES + 3000 }),
        fc.nat(),
        (rest, seed) => {
          // A valid-looking start so that the records are walked rather than rejected at once.
          const start = reRecord(new Uint8Array([1, 0, 0x3f, 0x00, ...rest.subarray(0, 64)]), [
            1 + (seed % 40),
          ]);
          const bytes = concat([start, rest]);
          const result = inspectClientHello(bytes);
          assertWellFormedResult(result, bytes);
          assert.equal(summary(result), referenceSummary(bytes));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("generated ClientHellos in random record layouts: the expected ticket, every prefix need-more", () => {
    const identity = fc.uint8Array({ minLength: 1, maxLength: 80 });
    const extension = fc.record({
      type: fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== 35 && t !== 41),
      data: fc.uint8Array({ maxLength: 40 }),
    });
    const helloArb = fc.record({
      sessionId: fc.uint8Array({ maxLength: 32 }),
      suites: fc.integer({ min: 1, max: 60 }),
      compression: fc.integer({ min: 1, max: 3 }),
      others: fc.array(extension, { maxLength: 10 }),
      ticket: fc.option(fc.uint8Array({ maxLength: 90 })),
      ticketAt: fc.nat(),
      identities: fc.option(fc.array(identity, { minLength: 1, maxLength: 4 })),
      sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
      minor: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(helloArb, (g) => {
        const extensions = g.others.map((e) => ({ type: e.type, data: Array.from(e.data) }));
        if (g.ticket)
          extensions.splice(g.ticketAt % (extensions.length + 1), 0, {
            type: 35,
            data: Array.from(g.ticket),
          });
        if (g.identities)
          extensions.push({ type: 41, data: pskData(g.identities.map((id) => Array.from(id))) });
        const message = clientHello({
          sessionId: Array.from(g.sessionId),
          cipherSuites: new Array<number>(g.suites * 2).fill(0x13),
          compression: new Array<number>(g.compression).fill(0),
          extensions,
        });
        const bytes = reRecord(message, g.sizes, 0x0300 + g.minor);
        const fromPsk = g.identities?.find((id) => id.length >= 16);
        const fromTicket = g.ticket && g.ticket.length >= 16 ? g.ticket : undefined;
        const chosen = fromPsk ?? fromTicket;
        const expected = chosen ? `ticket:${hex(chosen.subarray(0, 16))}` : "no-ticket";
        assert.equal(checkPrefixes(bytes), expected);
        assert.equal(summary(inspectClientHello(bytes)), expected);
        assert.equal(referenceSummary(bytes), expected);
      }),
      { numRuns: 300 },
    );
  });

  it("mutated captured ClientHellos (bit flips, insertions, deletions, length fields)", () => {
    const fixtureArb = fc.constantFrom(...fixtures);
    fc.assert(
      fc.property(
        fixtureArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (fixture, mutations, refragment) => {
          let message = handshakeMessage(fixture.bytes);
          let records = refragment ? reRecord(message, [1 + ((mutations.length * 97) % 400)]) : fixture.bytes;
          for (const m of mutations) ({ message, records } = applyMutation(message, records, m));
          const final = checkPrefixes(records);
          assert.equal(final, referenceSummary(records));
          checkAgainstReference(records, 2);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("truncations at every offset of every fixture are need-more, in any record layout", () => {
    for (const fixture of fixtures) {
      for (const sizes of [[1], [7], [300]]) {
        const records = reRecord(handshakeMessage(fixture.bytes), sizes);
        const answer = checkPrefixes(records);
        assert.equal(
          answer,
          fixture.expected.kind === "ticket" ? `ticket:${fixture.expected.keyName}` : "no-ticket",
        );
      }
    }
  });
});

describe("work stays linear", () => {
  const big: [string, Uint8Array][] = [
    // ~2700 one-byte records: the longest record walk and a full reassembly.
    [
      "one-byte records",
      reRecord(clientHello({ extensions: [{ type: 21, data: new Array<number>(2600).fill(0) }] }), [1]),
    ],
    // ~4000 empty extensions in one record.
    [
      "empty extensions",
      (() => {
        const message = clientHello({
          extensions: Array.from({ length: 4000 }, (_, i) => ({ type: 100 + i, data: [] as number[] })),
        });
        return reRecord(message, [message.length]);
      })(),
    ],
    // 2300 one-byte PSK identities.
    [
      "PSK identities",
      (() => {
        const identities = Array.from({ length: 2300 }, () => [1]);
        const message = clientHello({ extensions: [{ type: 41, data: pskData(identities, 1) }] });
        return reRecord(message, [message.length]);
      })(),
    ],
    // One record of exactly the maximum size, random after the headers.
    [
      "random",
      concat([
        new Uint8Array([22, 3, 1, 0x3f, 0xfb, 1, 0, 0x3f, 0xf7]),
        Uint8Array.from({ length: MAX_CLIENT_HELLO_BYTES - 9 }, (_, i) => (i * 2654435761) >>> 24),
      ]),
    ],
  ];

  for (const [name, bytes] of big) {
    it(`${name} (${bytes.length} bytes): a trickle of 1-byte reads and 1000 whole inspections`, () => {
      assert.ok(bytes.length <= MAX_CLIENT_HELLO_BYTES);
      const start = performance.now();
      for (let k = 0; k <= bytes.length; k++) {
        const prefix = bytes.subarray(0, k);
        assertWellFormedResult(inspectClientHello(prefix), prefix);
      }
      for (let i = 0; i < 1000; i++) inspectClientHello(bytes);
      const elapsed = performance.now() - start;
      // Linear work takes a few tens of milliseconds here; quadratic work takes many seconds.
      assert.ok(elapsed < 3000, `${elapsed.toFixed(0)} ms`);
    });
  }
});
