/**
 * ClientHelloBuffer: however a ClientHello is cut into chunks (byte by byte included), it gives
 * the answer the parser gives for the whole, with the bytes it was given, and it asks the parser
 * only a few times (the old reader joined and re-parsed every byte: quadratic work).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import { inspectClientHello, type ClientHelloResult } from "../../../src/core/client-hello.ts";
import { ClientHelloBuffer, type ClientHelloAnswer } from "../../../src/core/client-hello-buffer.ts";
import { loadFixtures, summary } from "./support.ts";

const fixtures = loadFixtures();

/** Feeds `chunks` as a reader does; the answer, the bytes handed back and the parser calls. */
function feed(chunks: Buffer[]): { answer?: ClientHelloAnswer; bytes?: Buffer; calls: number } {
  let calls = 0;
  const inspect = (b: Uint8Array): ClientHelloResult => {
    calls++;
    return inspectClientHello(b);
  };
  const [first, ...rest] = chunks;
  if (first === undefined) return { calls };
  const initial = inspect(first);
  if (initial.kind !== "need-more") return { answer: initial, bytes: first, calls };
  const buffer = new ClientHelloBuffer(first, initial.needed, inspect);
  for (const chunk of rest) {
    const answer = buffer.push(chunk);
    if (answer !== undefined) return { answer, bytes: buffer.bytes(), calls };
  }
  return { calls };
}

const bytewise = (bytes: Uint8Array): Buffer[] => Array.from(bytes, (b) => Buffer.from([b]));

/** TLS records in `bytes` (a ClientHello may be fragmented over several). */
function records(bytes: Uint8Array): number {
  let count = 0;
  for (let at = 0; at + 5 <= bytes.length; at += 5 + ((bytes[at + 3]! << 8) | bytes[at + 4]!)) count++;
  return count;
}

it("a ClientHello sent one byte at a time: the whole one's answer, in a few parses", () => {
  let worst = 0;
  for (const f of fixtures) {
    const { answer, bytes, calls } = feed(bytewise(f.bytes));
    assert.ok(answer, f.file);
    assert.equal(summary(answer), summary(inspectClientHello(f.bytes)), f.file);
    assert.deepEqual(bytes, Buffer.from(f.bytes.subarray(0, bytes!.length)), f.file);
    // a few per record (header, handshake header, body), however many bytes
    const bound = 3 * records(f.bytes) + 3;
    assert.ok(calls <= bound, `${f.file}: ${calls} parses for ${f.bytes.length} one-byte chunks`);
    worst = Math.max(worst, calls);
  }
  console.log(
    `# ${fixtures.length} captured ClientHellos fed byte by byte: at most ${worst} parses each (was one per byte)`,
  );
});

it("any chunking of a captured or random input gives the one-shot answer", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constantFrom(...fixtures.map((f) => f.bytes)),
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
      ),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 64 }),
      (input, sizes) => {
        const chunks: Buffer[] = [];
        for (let at = 0, i = 0; at < input.length; i++) {
          const size = sizes[i % sizes.length]!;
          chunks.push(Buffer.from(input.subarray(at, at + size)));
          at += size;
        }
        const { answer, bytes } = feed(chunks);
        const whole = inspectClientHello(input);
        if (answer === undefined) {
          assert.equal(whole.kind, "need-more");
        } else {
          // the answer is the parser's for the bytes handed back, and final for the whole
          assert.equal(summary(answer), summary(inspectClientHello(bytes!)));
          assert.equal(summary(answer), summary(whole));
        }
      },
    ),
    { numRuns: 2000 },
  );
});
