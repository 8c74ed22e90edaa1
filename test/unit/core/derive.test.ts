import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formats, renderKey, type Format } from "../../../src/core/index.ts";
import { manualHkdf } from "./helpers.ts";

const key = {
  name: Buffer.from("000102030405060708090a0b0c0d0e0f", "hex"),
  seed: Buffer.from("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", "hex"),
};

describe("renderKey", () => {
  it("the manual HKDF of the tests matches RFC 5869 test case 1", () => {
    const okm = manualHkdf(
      Buffer.alloc(22, 0x0b),
      Buffer.from("000102030405060708090a0b0c", "hex"),
      Buffer.from("f0f1f2f3f4f5f6f7f8f9", "hex"),
      42,
    );
    assert.equal(
      okm.toString("hex"),
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
  });

  it("matches fixed known-answer vectors (computed independently with Python hmac)", () => {
    assert.equal(
      renderKey(key, "nginx", 80).toString("hex"),
      "000102030405060708090a0b0c0d0e0f1779482850e9152de86b7d0c47ace201c9aee51062fcab778047d4d8b7baf828" +
        "27e6a314d21766df631d4653430251dcac412f2c6c6014bf4359c55c209f4f6f",
    );
    assert.equal(
      renderKey(key, "nginx", 48).toString("hex"),
      "000102030405060708090a0b0c0d0e0f1779482850e9152de86b7d0c47ace201c9aee51062fcab778047d4d8b7baf828",
    );
    assert.equal(
      renderKey(key, "node", 48).toString("hex"),
      "000102030405060708090a0b0c0d0e0fc5d809dc2d509509842a440936c22e94ae148c721e2cc6ecae8ee18f45472bec",
    );
    assert.equal(
      renderKey(key, "go", 32).toString("hex"),
      "21a6242bd5e3082b5e59d75fea99ed3998eadf7ee46a95945ed70526fa604a0f",
    );
  });

  it("is the name followed by HKDF-SHA256(seed, salt = name, info = format), for any key", () => {
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(
        bytes(16),
        bytes(32),
        fc.constantFrom(...formats.filter((f) => f !== "go")),
        fc.constantFrom(32, 48, 80),
        (name, seed, format, size) => {
          const rendered = renderKey({ name, seed }, format, size);
          assert.equal(rendered.length, size);
          assert.deepEqual(rendered.subarray(0, 16), name);
          assert.deepEqual(
            rendered.subarray(16),
            manualHkdf(seed, name, `ticketkeys.dev/v1 ${format}`, size - 16),
          );
        },
      ),
    );
    fc.assert(
      fc.property(bytes(16), bytes(32), (name, seed) => {
        assert.deepEqual(
          renderKey({ name, seed }, "go", 32),
          manualHkdf(seed, name, "ticketkeys.dev/v1 go", 32),
        );
      }),
    );
  });

  it("gives every format its own bytes", () => {
    const tails = formats.map((format: Format) => renderKey(key, format, 48).subarray(16).toString("hex"));
    assert.equal(new Set(tails).size, formats.length);
  });

  it("rejects impossible sizes and names", () => {
    assert.throws(() => renderKey(key, "nginx", 16), RangeError);
    assert.throws(() => renderKey(key, "nginx", 48.5), RangeError);
    assert.throws(() => renderKey(key, "go", 0), RangeError);
    assert.throws(() => renderKey({ ...key, name: Buffer.alloc(15) }, "nginx", 48), RangeError);
  });
});
