/**
 * A refused Secret write: the status says so (Ready=False SecretWriteFailed with the API's
 * message), a Warning event is recorded once per distinct message, and a message that quotes the
 * Secret's data is never repeated.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { writeFailure } from "../../../src/controller/reconcile.ts";
import { withoutSecretData } from "../../../src/controller/redaction.ts";
import { intent, policy, t0, writtenRing } from "./fixtures.ts";

describe("writeFailure", () => {
  it("Ready=False SecretWriteFailed naming the Secret and the API's answer, an event when new", () => {
    const why = 'HTTP 403: admission webhook "freeze.example.com" denied the request: secrets are frozen';
    const first = writeFailure(policy(), "web", why, t0);
    const ready = first.status.conditions?.find((c) => c.type === "Ready");
    assert.ok(ready);
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "SecretWriteFailed");
    assert.equal(
      ready.message,
      `writing Secret web failed: ${why}. The keys it holds stay in force; retrying.`,
    );
    assert.deepEqual(
      first.events.map((e) => `${e.type} ${e.reason}`),
      ["Warning SecretWriteFailed"],
    );
    // the same failure at the next retry: no second event
    const again = writeFailure(policy({}, { status: first.status }), "web", why, t0 + 1000);
    assert.deepEqual(again.events, []);
    assert.equal(
      again.status.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime,
      ready.lastTransitionTime,
    );
  });
});

describe("withoutSecretData", () => {
  const data = intent(writtenRing(t0), t0).data!;
  const nginx = data["nginx-0.key"]!;
  const raw = Buffer.from(nginx, "base64");

  it("keeps a message that quotes nothing of the data", () => {
    const message = 'HTTP 422: Secret "web" is invalid: metadata.labels: Invalid value: "x"';
    assert.equal(withoutSecretData(message, data), message);
  });

  it("replaces a message that quotes the data as base64, hex or text", () => {
    for (const quoted of [
      nginx.slice(20, 60),
      raw.subarray(20, 40).toString("hex"),
      data["ring.json"]!.slice(8, 40),
    ]) {
      const message = `HTTP 400: webhook denied the request: data was ${quoted}`;
      assert.equal(
        withoutSecretData(message, data),
        "(the API's message quoted the Secret's data and is not repeated)",
      );
    }
    const ringText = Buffer.from(data["ring.json"]!, "base64").toString();
    const seed = /"seed":"([^"]+)"/.exec(ringText)![1]!;
    assert.notEqual(
      withoutSecretData(`denied: ${seed}`, data),
      `denied: ${seed}`,
      "a seed quoted from ring.json",
    );
  });
});
