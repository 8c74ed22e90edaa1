/**
 * Real ClientHellos captured from node:tls, openssl s_client and curl (see
 * test/fixtures/client-hello/capture.ts): whole, cut at every offset, fed byte by byte and
 * re-fragmented into handshake records of every size.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { inspectClientHello } from "../../../src/core/client-hello.ts";
import {
  assertWellFormedResult,
  concat,
  expectedSummary,
  handshakeMessage,
  loadFixtures,
  reRecord,
  referenceSummary,
  summary,
} from "./support.ts";

const fixtures = loadFixtures();

describe("captured ClientHello fixtures", () => {
  it("cover every client, both protocol versions, first and resumed connections", () => {
    const names = fixtures.map((f) => f.file);
    for (const client of ["node", "openssl", "openssl-fragmented", "curl"]) {
      for (const version of ["tls12", "tls13"]) {
        const prefix =
          client === "openssl-fragmented" ? `openssl-${version}-fragmented` : `${client}-${version}`;
        assert.ok(names.includes(`${prefix}-first.hex`), `${prefix}-first`);
        // curl 7.88 sends no SessionTicket extension in TLS 1.2: its second connection has no ticket.
        const second = client === "curl" && version === "tls12" ? "second" : "resumed";
        assert.ok(names.includes(`${prefix}-${second}.hex`), `${prefix}-${second}`);
      }
    }
    assert.ok(fixtures.some((f) => f.records > 1 && f.resumed));
  });

  for (const fixture of fixtures) {
    describe(fixture.file, () => {
      it("yields the key name of the ticket the server issued", () => {
        if (fixture.resumed) {
          assert.deepEqual(fixture.expected, { kind: "ticket", keyName: fixture.serverKeyName });
          if (fixture.issuedTicketKeyName !== null) {
            assert.equal(fixture.issuedTicketKeyName, fixture.serverKeyName);
          }
        } else {
          assert.deepEqual(fixture.expected, { kind: "no-ticket" });
        }
        const result = inspectClientHello(fixture.bytes);
        assertWellFormedResult(result, fixture.bytes);
        assert.equal(summary(result), expectedSummary(fixture));
        assert.equal(referenceSummary(fixture.bytes), expectedSummary(fixture));
      });

      it("answers the same inside a larger buffer, with bytes after the ClientHello", () => {
        const trailing = new Uint8Array([
          20,
          3,
          3,
          0,
          1,
          1,
          23,
          3,
          3,
          0,
          40,
          ...new Array<number>(40).fill(7),
        ]);
        const backing = concat([new Uint8Array(13), fixture.bytes, trailing]);
        const view = backing.subarray(13);
        assert.equal(summary(inspectClientHello(view)), expectedSummary(fixture));
        assert.equal(summary(inspectClientHello(Buffer.from(view))), expectedSummary(fixture));
      });

      it("is need-more at every shorter prefix (every two-way split), with a sound `needed`", () => {
        const n = fixture.bytes.length;
        const backing = concat([new Uint8Array(7), fixture.bytes]);
        for (let k = 0; k < n; k++) {
          const prefix = backing.subarray(7, 7 + k);
          const result = inspectClientHello(prefix);
          assert.equal(result.kind, "need-more", `prefix of ${k} bytes`);
          assertWellFormedResult(result, prefix);
          assert.ok(k + result.needed <= n, `needed overshoots at ${k}`);
          // The second half of the split completes it.
          const whole = concat([prefix, fixture.bytes.subarray(k)]);
          assert.equal(summary(inspectClientHello(whole)), expectedSummary(fixture));
        }
      });

      it("is need-more byte by byte until the last byte, like a caller concatenating reads", () => {
        let received: Uint8Array = new Uint8Array(0);
        const answers: string[] = [];
        for (const byte of fixture.bytes) {
          received = concat([received, new Uint8Array([byte])]);
          answers.push(summary(inspectClientHello(received)));
        }
        assert.equal(answers.pop(), expectedSummary(fixture));
        assert.ok(answers.every((a) => a === "need-more"));
      });

      it("parses the same re-fragmented into records of 1..64 bytes and uneven sizes", () => {
        const message = handshakeMessage(fixture.bytes);
        const layouts: number[][] = [];
        for (let size = 1; size <= 64; size++) layouts.push([size]);
        layouts.push([1, 2, 3], [3, 1], [200, 1], [4, 1000], [message.length - 1, 1], [16384]);
        for (const sizes of layouts) {
          const records = reRecord(message, sizes, 0x0303);
          const result = inspectClientHello(records);
          assert.equal(summary(result), expectedSummary(fixture), `records of ${sizes.join(",")} bytes`);
          assertWellFormedResult(result, records);
        }
      });

      it("is need-more at every prefix of a 1-byte-record rendering", () => {
        const records = reRecord(handshakeMessage(fixture.bytes), [1]);
        for (let k = 0; k < records.length; k++) {
          const result = inspectClientHello(records.subarray(0, k));
          if (result.kind !== "need-more") assert.fail(`prefix ${k}: ${summary(result)}`);
          assert.ok(k + result.needed <= records.length);
        }
        assert.equal(summary(inspectClientHello(records)), expectedSummary(fixture));
      });
    });
  }
});
