/** Hand-built ClientHellos and non-ClientHellos: the rules one by one. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { inspectClientHello, MAX_CLIENT_HELLO_BYTES } from "../../../src/core/client-hello.ts";
import {
  assertWellFormedResult,
  clientHello,
  concat,
  hex,
  pskData,
  record,
  reRecord,
  referenceSummary,
  summary,
  ticketBytes,
  type HelloParts,
} from "./support.ts";

const A = "a1".repeat(16);
const B = "b2".repeat(16);

function inspect(bytes: Uint8Array): string {
  const result = inspectClientHello(bytes);
  assertWellFormedResult(result, bytes);
  assert.equal(referenceSummary(bytes), summary(result), "reference parser disagrees");
  return summary(result);
}

function hello(parts: HelloParts): string {
  return inspect(record(clientHello(parts)));
}

function reasonOf(bytes: Uint8Array): string {
  const result = inspectClientHello(bytes);
  assert.ok(result.kind === "malformed" || result.kind === "not-tls", result.kind);
  return result.reason;
}

describe("ticket selection", () => {
  it("finds a TLS 1.2 SessionTicket extension", () => {
    assert.equal(hello({ extensions: [{ type: 35, data: ticketBytes(0xa1) }] }), `ticket:${A}`);
  });

  it("accepts a ticket of exactly 16 bytes, not of 15 or 0", () => {
    assert.equal(hello({ extensions: [{ type: 35, data: ticketBytes(0xa1, 16) }] }), `ticket:${A}`);
    assert.equal(hello({ extensions: [{ type: 35, data: ticketBytes(0xa1, 15) }] }), "no-ticket");
    assert.equal(hello({ extensions: [{ type: 35, data: [] }] }), "no-ticket");
  });

  it("finds a TLS 1.3 pre_shared_key identity", () => {
    assert.equal(hello({ extensions: [{ type: 41, data: pskData([ticketBytes(0xb2)]) }] }), `ticket:${B}`);
  });

  it("prefers the pre_shared_key identity over the SessionTicket extension, in either order", () => {
    const ticket = { type: 35, data: ticketBytes(0xa1) };
    const psk = { type: 41, data: pskData([ticketBytes(0xb2)]) };
    assert.equal(hello({ extensions: [ticket, psk] }), `ticket:${B}`);
    assert.equal(hello({ extensions: [psk, ticket] }), `ticket:${B}`);
  });

  it("takes the first identity of at least 16 bytes, else falls back to the SessionTicket", () => {
    const short = [1, 2, 3];
    assert.equal(
      hello({ extensions: [{ type: 41, data: pskData([short, ticketBytes(0xb2), ticketBytes(0xc3)]) }] }),
      `ticket:${B}`,
    );
    assert.equal(
      hello({
        extensions: [
          { type: 35, data: ticketBytes(0xa1) },
          { type: 41, data: pskData([short]) },
        ],
      }),
      `ticket:${A}`,
    );
    assert.equal(hello({ extensions: [{ type: 41, data: pskData([short]) }] }), "no-ticket");
  });

  it("returns a 16-byte copy that does not alias the input", () => {
    const bytes = record(clientHello({ extensions: [{ type: 35, data: ticketBytes(0xa1) }] }));
    const result = inspectClientHello(bytes);
    assert.equal(result.kind, "ticket");
    bytes.fill(0);
    assert.equal(hex(result.keyName), A);
  });

  it("ignores other extensions, including ones with the ticket's bytes", () => {
    assert.equal(
      hello({
        extensions: [
          { type: 0, data: [0, 5, 0, 0, 2, 0x61, 0x62] },
          { type: 36, data: ticketBytes(0xa1) },
          { type: 0xfe0d, data: ticketBytes(0xc3, 200) },
        ],
      }),
      "no-ticket",
    );
  });
});

describe("well-formed ClientHellos without a ticket", () => {
  it("no extensions block at all (before TLS 1.3)", () => {
    assert.equal(hello({}), "no-ticket");
  });

  it("an empty extensions block, a 32-byte session id, many cipher suites", () => {
    const suites = Array.from({ length: 400 }, (_, i) => i & 0xff);
    assert.equal(
      hello({ extensions: [], sessionId: new Array<number>(32).fill(9), cipherSuites: suites }),
      "no-ticket",
    );
  });

  it("accepts SSL 3.0 / TLS 1.0 record versions and ignores what follows the ClientHello", () => {
    const message = clientHello({ extensions: [{ type: 35, data: ticketBytes(0xa1) }] });
    for (const version of [0x0300, 0x0301, 0x0302, 0x0303, 0x0304]) {
      assert.equal(inspect(reRecord(message, [message.length], version)), `ticket:${A}`);
    }
    // ChangeCipherSpec and early data after the ClientHello.
    const tail = new Uint8Array([20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2, 9, 9]);
    assert.equal(summary(inspectClientHello(concat([record(message), tail]))), `ticket:${A}`);
    // Another handshake message after it in the same record.
    const twoMessages = concat([message, new Uint8Array([2, 0, 0, 1, 0])]);
    assert.equal(summary(inspectClientHello(reRecord(twoMessages, [twoMessages.length]))), `ticket:${A}`);
  });
});

describe("not TLS", () => {
  const cases: [string, number[]][] = [
    ["HTTP/1.1", [...Buffer.from("GET / HTTP/1.1\r\n")]],
    ["HTTP/2 preface", [...Buffer.from("PRI * HTTP/2.0\r\n")]],
    ["SSLv2-compatible ClientHello", [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15]],
    ["alert record", [21, 3, 3, 0, 2, 2, 40]],
    ["application data record", [23, 3, 3, 0, 1, 0]],
    ["handshake type byte with version major 2", [22, 2, 0, 0, 4, 1, 0, 0, 0]],
    ["a zero byte", [0]],
  ];
  for (const [name, bytes] of cases) {
    it(name, () => {
      assert.equal(inspect(new Uint8Array(bytes)), "not-tls");
      assert.ok(reasonOf(new Uint8Array(bytes)).length > 0);
    });
  }

  it("is decided by the first byte alone", () => {
    assert.equal(inspect(new Uint8Array([0x47])), "not-tls");
    assert.equal(inspect(new Uint8Array([0x80])), "not-tls");
    assert.match(reasonOf(new Uint8Array([0x80])), /SSLv2/);
  });
});

describe("malformed", () => {
  const good = clientHello({ extensions: [{ type: 35, data: ticketBytes(0xa1) }] });

  it("a first handshake message that is not a ClientHello", () => {
    const serverHello = Uint8Array.from(good);
    serverHello[0] = 2;
    assert.equal(inspect(record(serverHello)), "malformed");
    // Decided as soon as the type byte arrives.
    assert.equal(inspect(record(serverHello).subarray(0, 6)), "malformed");
  });

  it("empty, oversized, non-handshake and wrong-version records inside the ClientHello", () => {
    const split = reRecord(good, [10]);
    assert.equal(inspect(concat([new Uint8Array([22, 3, 1, 0, 0]), split])), "malformed");
    assert.equal(inspect(new Uint8Array([22, 3, 1, 0x40, 0x01, 1, 0, 0, 1])), "malformed");
    const second = split.subarray(15);
    assert.equal(
      inspect(concat([split.subarray(0, 15), new Uint8Array([21, 3, 3, 0, 2, 1, 0]), second])),
      "malformed",
    );
    const badVersion = Uint8Array.from(split);
    badVersion[16] = 4;
    assert.equal(inspect(badVersion), "malformed");
  });

  it("vectors that overrun or do not add up", () => {
    const cases: HelloParts[] = [
      { sessionId: new Array<number>(33).fill(1), extensions: [] },
      { cipherSuites: [0x13], extensions: [] },
      { cipherSuites: [], extensions: [] },
      { compression: [], extensions: [] },
      { extensions: [{ type: 41, data: [0, 0, 0, 33, ...new Array<number>(33).fill(0)] }] },
      { extensions: [{ type: 41, data: pskData([[]]) }] },
      { extensions: [{ type: 41, data: [...pskData([ticketBytes(1)]), 0] }] },
      {
        extensions: [
          {
            type: 41,
            data: pskData([ticketBytes(1)])
              .slice(0, -33)
              .concat([0, 0]),
          },
        ],
      },
      {
        extensions: [
          { type: 35, data: [] },
          { type: 35, data: ticketBytes(1) },
        ],
      },
      {
        extensions: [
          { type: 41, data: pskData([ticketBytes(1)]) },
          { type: 41, data: pskData([ticketBytes(1)]) },
        ],
      },
    ];
    for (const parts of cases) assert.equal(hello(parts), "malformed", JSON.stringify(parts).slice(0, 80));

    // Body lengths that disagree: extensions overrun, trailing bytes, a lone length byte.
    const body = Array.from(good.subarray(4));
    const withBody = (b: number[]): Uint8Array =>
      record(new Uint8Array([1, 0, (b.length >> 8) & 0xff, b.length & 0xff, ...b]));
    assert.equal(inspect(withBody([...body, 0])), "malformed");
    assert.equal(inspect(withBody(body.slice(0, -1))), "malformed");
    const noExtensions = clientHello({});
    assert.equal(inspect(withBody([...Array.from(noExtensions.subarray(4)), 0])), "malformed");
    assert.equal(inspect(withBody(body.slice(0, 20))), "malformed");
  });
});

describe("size limit", () => {
  const padded = (bodyBytes: number): Uint8Array => {
    const base = clientHello({ extensions: [{ type: 35, data: ticketBytes(0xa1) }] }).length + 4;
    return clientHello({
      extensions: [
        { type: 35, data: ticketBytes(0xa1) },
        { type: 21, data: new Array<number>(bodyBytes - base).fill(0) },
      ],
    });
  };

  it("accepts a ClientHello whose single record ends exactly at the limit", () => {
    const message = padded(MAX_CLIENT_HELLO_BYTES - 5);
    assert.equal(message.length, MAX_CLIENT_HELLO_BYTES - 5);
    assert.equal(inspect(record(message)), `ticket:${A}`);
  });

  it("rejects one byte more, as soon as the record header announces it", () => {
    const bytes = record(padded(MAX_CLIENT_HELLO_BYTES - 4));
    assert.equal(bytes.length, MAX_CLIENT_HELLO_BYTES + 1);
    assert.equal(inspect(bytes), "malformed");
    assert.equal(inspect(bytes.subarray(0, 5)), "malformed");
  });

  it("counts record headers: a fragmented ClientHello must fit with all of them", () => {
    const message = padded(2000);
    assert.equal(inspect(reRecord(message, [1])).startsWith("ticket:"), true); // 12000 bytes
    const bytes = reRecord(padded(4000), [1]); // 24000 bytes
    assert.equal(inspect(bytes), "malformed");
    assert.equal(inspect(bytes.subarray(0, MAX_CLIENT_HELLO_BYTES)), "malformed");
    // Known to be too big once the handshake header has arrived, even in 1-byte records.
    const tooBig = reRecord(padded(MAX_CLIENT_HELLO_BYTES - 20), [1]);
    assert.equal(inspect(tooBig.subarray(0, 4 * 6)), "malformed");
    assert.equal(inspect(tooBig.subarray(0, 4 * 6 - 1)), "need-more");
  });

  it("rejects a handshake length that cannot fit, before the body arrives", () => {
    assert.equal(inspect(new Uint8Array([22, 3, 1, 0, 4, 1, 0, 0x40, 0])), "malformed");
    assert.equal(inspect(new Uint8Array([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff])), "malformed");
  });

  it("never asks for more once the input reaches the limit", () => {
    const endless = reRecord(new Uint8Array([1, 0, 0x3f, 0xf0, ...new Array<number>(20000).fill(0)]), [1000]);
    for (let n = MAX_CLIENT_HELLO_BYTES - 200; n <= MAX_CLIENT_HELLO_BYTES + 10; n++) {
      const result = inspectClientHello(endless.subarray(0, n));
      if (n >= MAX_CLIENT_HELLO_BYTES) assert.notEqual(result.kind, "need-more", `at ${n}`);
    }
  });
});

describe("need-more", () => {
  it("asks for one byte first, then the rest of the record header", () => {
    assert.deepEqual(inspectClientHello(new Uint8Array(0)), { kind: "need-more", needed: 1 });
    assert.deepEqual(inspectClientHello(new Uint8Array([22])), { kind: "need-more", needed: 4 });
    assert.deepEqual(inspectClientHello(new Uint8Array([22, 3, 1, 1])), { kind: "need-more", needed: 1 });
  });

  it("asks for the rest of a single-record ClientHello in one go once its length is known", () => {
    const bytes = record(clientHello({ extensions: [{ type: 35, data: ticketBytes(0xa1) }] }));
    assert.deepEqual(inspectClientHello(bytes.subarray(0, 9)), {
      kind: "need-more",
      needed: bytes.length - 9,
    });
    assert.deepEqual(inspectClientHello(bytes.subarray(0, 100)), {
      kind: "need-more",
      needed: bytes.length - 100,
    });
  });
});
