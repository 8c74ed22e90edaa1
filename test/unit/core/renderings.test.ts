import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import {
  formats,
  nextRing,
  orderedForHaproxy,
  orderedForServing,
  renderAts,
  renderEnvoySds,
  renderGo,
  renderHaproxy,
  renderKey,
  renderNginx,
  renderNode,
  renderSecretData,
  serializeRing,
  type Key,
  type Ring,
} from "../../../src/core/index.ts";
import { hour, makeKey, seededRandom } from "./helpers.ts";

const t0 = Date.UTC(2026, 10, 22, 10);
// Two retired keys, the active key, the pending key (retiredKeys = 2, interval = 1h).
const [r0, r1, active, pending] = [
  makeKey(0, t0 - 2 * hour, t0 - hour, t0 + hour),
  makeKey(1, t0 - hour, t0, t0 + 2 * hour),
  makeKey(2, t0, t0 + hour, t0 + 3 * hour),
  makeKey(3, t0 + hour, t0 + 2 * hour, t0 + 4 * hour),
] as [Key, Key, Key, Key];
const ring: Ring = { keys: [r0, r1, active, pending] };
const now = t0 + 30 * 60_000;

const names = (keys: readonly Key[]) => keys.map((key) => key.name.toString("hex"));
const namesOf = (chunks: readonly Buffer[]) => chunks.map((bytes) => bytes.subarray(0, 16).toString("hex"));
const lines = (text: Buffer) => {
  const s = text.toString();
  assert.ok(s.endsWith("\n"), "lines are newline-terminated");
  return s
    .slice(0, -1)
    .split("\n")
    .map((line) => Buffer.from(line, "base64"));
};
const chunks = (bytes: Buffer, size: number) =>
  Array.from({ length: bytes.length / size }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

interface EnvoySds {
  resources: { "@type": string; name: string; session_ticket_keys: { keys: { inline_bytes: string }[] } }[];
}

describe("key order", () => {
  it("serving order is active, pending, then retired newest first", () => {
    assert.deepEqual(orderedForServing(ring, now), [active, pending, r1, r0]);
  });

  it("HAProxy order is oldest first with the active key penultimate", () => {
    assert.deepEqual(orderedForHaproxy(ring, now), [r0, r1, active, pending]);
  });

  it("leaves out gone keys", () => {
    const later = t0 + hour + 1; // r0 gone, pending now active, r1 retired, active retired
    assert.deepEqual(orderedForServing(ring, later), [pending, active, r1]);
  });

  it("keeps the active key penultimate for HAProxy when there is no pending key", () => {
    // A suspended ring after its last key started: `pending` encrypts, `active` and r1 are retired.
    const suspended = t0 + hour + 1;
    assert.deepEqual(orderedForHaproxy(ring, suspended), [active, pending, r1]);
  });

  it("treats the earliest key as active when no key has started yet", () => {
    assert.deepEqual(orderedForServing(ring, t0 - 10 * hour), [r0, r1, active, pending]);
  });
});

describe("renderings", () => {
  for (const [cipher, size] of [
    ["AES128", 48],
    ["AES256", 80],
  ] as const) {
    it(`nginx ${cipher}: one ${size}-byte file per key, slot 0 active, 1 pending, then retired`, () => {
      const files = renderNginx(ring, cipher, now);
      assert.deepEqual(namesOf(files), names([active, pending, r1, r0]));
      for (const [i, key] of [active, pending, r1, r0].entries()) {
        assert.deepEqual(files[i], renderKey(key, "nginx", size));
      }
    });

    it(`haproxy ${cipher}: base64 lines of ${size} bytes, oldest first`, () => {
      const decoded = lines(renderHaproxy(ring, cipher, now));
      assert.deepEqual(namesOf(decoded), names([r0, r1, active, pending]));
      for (const [i, key] of [r0, r1, active, pending].entries()) {
        assert.deepEqual(decoded[i], renderKey(key, "haproxy", size));
      }
      assert.deepEqual(decoded.at(-2)?.subarray(0, 16), active.name, "HAProxy encrypts with the penultimate");
    });
  }

  it("envoy: an SDS file with one ticket-keys Secret of 80-byte keys, active first", () => {
    const sds = parseYaml(renderEnvoySds(ring, now).toString()) as EnvoySds;
    assert.equal(sds.resources.length, 1);
    const secret = sds.resources[0]!;
    assert.equal(secret["@type"], "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret");
    assert.equal(secret.name, "ticket-keys");
    const keys = secret.session_ticket_keys.keys.map((k) => Buffer.from(k.inline_bytes, "base64"));
    assert.deepEqual(
      keys,
      [active, pending, r1, r0].map((key) => renderKey(key, "envoy", 80)),
    );
  });

  it("ats: raw 48-byte keys concatenated, active first", () => {
    const bytes = renderAts(ring, now);
    assert.equal(bytes.length, 4 * 48);
    assert.deepEqual(
      chunks(bytes, 48),
      [active, pending, r1, r0].map((key) => renderKey(key, "ats", 48)),
    );
  });

  it("go: base64 lines of 32-byte keys, active first", () => {
    const decoded = lines(renderGo(ring, now));
    assert.deepEqual(
      decoded,
      [active, pending, r1, r0].map((key) => renderKey(key, "go", 32)),
    );
  });

  it("node: the 48 bytes of the active key", () => {
    assert.deepEqual(renderNode(ring, now), renderKey(active, "node", 48));
    assert.deepEqual(renderNode(ring, t0 + hour), renderKey(pending, "node", 48));
    assert.throws(() => renderNode({ keys: [] }, now), /no keys/);
  });
});

describe("renderSecretData", () => {
  it("writes ring.json and every chosen rendering under the data keys of docs/design.md", () => {
    const data = renderSecretData(ring, { formats, cipher: "AES256" }, now);
    assert.deepEqual(Object.keys(data).sort(), [
      "ats.keys",
      "envoy-sds.yaml",
      "go.keys",
      "haproxy.keys",
      "nginx-0.key",
      "nginx-1.key",
      "nginx-2.key",
      "nginx-3.key",
      "node.key",
      "ring.json",
    ]);
    assert.equal(data["ring.json"]!.toString(), serializeRing(ring));
    assert.equal(data["nginx-0.key"]!.length, 80);
    assert.equal(data["node.key"]!.length, 48);
  });

  it("writes only ring.json and the chosen formats", () => {
    assert.deepEqual(Object.keys(renderSecretData(ring, { formats: [], cipher: "AES128" }, now)), [
      "ring.json",
    ]);
    const data = renderSecretData(ring, { formats: ["node", "node", "go"], cipher: "AES128" }, now);
    assert.deepEqual(Object.keys(data).sort(), ["go.keys", "node.key", "ring.json"]);
  });

  it("is stable: the same ring at the same instant gives the same bytes", () => {
    const copy = {
      keys: ring.keys.map((key) => ({ ...key, name: Buffer.from(key.name), seed: Buffer.from(key.seed) })),
    };
    assert.deepEqual(
      renderSecretData(copy, { formats, cipher: "AES128" }, now),
      renderSecretData(ring, { formats, cipher: "AES128" }, now),
    );
  });

  it("has the sizes, counts and name prefixes of docs/design.md for any scheduled ring", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10_000, max: 168 * hour }),
        fc.integer({ min: 1, max: 10 }),
        fc.nat({ max: 5 }),
        fc.constantFrom("AES128", "AES256"),
        (interval, retiredKeys, rotations, cipher) => {
          const spec = { rotationIntervalMs: interval, retiredKeys, suspend: false };
          const random = seededRandom(`${interval}/${retiredKeys}`);
          let step = nextRing({ previous: undefined, spec, now: t0, random });
          for (let i = 0; i < rotations; i++)
            step = nextRing({ previous: step.ring, spec, now: step.nextWake, random });
          const at = step.nextWake - 1;
          const data = renderSecretData(step.ring, { formats, cipher }, at);
          const size = cipher === "AES128" ? 48 : 80;
          const serving = names(orderedForServing(step.ring, at));
          assert.equal(serving.length, retiredKeys + 2);
          const nginx = serving.map((_, slot) => data[`nginx-${slot}.key`]!);
          assert.ok(nginx.every((bytes) => bytes.length === size));
          assert.deepEqual(namesOf(nginx), serving);
          assert.deepEqual(namesOf(lines(data["haproxy.keys"]!)).at(-2), serving[0]);
          assert.ok(lines(data["haproxy.keys"]!).every((bytes) => bytes.length === size));
          assert.deepEqual(namesOf(chunks(data["ats.keys"]!, 48)), serving);
          assert.ok(lines(data["go.keys"]!).every((bytes) => bytes.length === 32));
          assert.deepEqual(namesOf([data["node.key"]!]), serving.slice(0, 1));
        },
      ),
      { numRuns: 50 },
    );
  });
});
