/** sameStatus: a status read back from the API in its own key order is not written again. */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { PolicyStatus } from "../../../src/api/policy.ts";
import { sameStatus } from "../../../src/controller/status.ts";

const written: PolicyStatus = {
  observedGeneration: 3,
  secretName: "web",
  activeKey: "3f2a9c01",
  keys: [{ id: "3f2a9c01", state: "Active", activeFrom: "a", activeUntil: "b", expiresAt: "c" }],
  nextRotationTime: undefined,
  conditions: [
    {
      type: "Ready",
      status: "True",
      reason: "KeysCurrent",
      message: "m",
      lastTransitionTime: "t",
      observedGeneration: 3,
    },
  ],
};
/** The same status as the API returns it: keys in another order, undefined fields absent. */
const readBack = {
  conditions: [
    {
      lastTransitionTime: "t",
      message: "m",
      observedGeneration: 3,
      reason: "KeysCurrent",
      status: "True",
      type: "Ready",
    },
  ],
  activeKey: "3f2a9c01",
  keys: [{ activeFrom: "a", activeUntil: "b", expiresAt: "c", id: "3f2a9c01", state: "Active" }],
  observedGeneration: 3,
  secretName: "web",
};

it("is the same status whatever the key order, with undefined fields left out", () => {
  assert.equal(JSON.stringify(readBack) === JSON.stringify(written), false, "the text differs");
  assert.equal(sameStatus(readBack, written), true);
});

it("differs when a value, a list order or a field differs", () => {
  assert.equal(sameStatus({ ...readBack, activeKey: "00000000" }, written), false);
  assert.equal(sameStatus({ ...readBack, keys: [] }, written), false);
  assert.equal(sameStatus(undefined, written), false);
  assert.equal(sameStatus({ ...readBack, lastRotationTime: "x" }, written), false);
});
