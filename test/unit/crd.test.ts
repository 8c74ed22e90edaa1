import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { policyCrdYaml } from "../../src/api/crd.ts";

it("crds/ is generated from the zod schema (run `npm run generate` if this fails)", () => {
  const committed = readFileSync("crds/ticketkeys.dev_ticketkeypolicies.yaml", "utf8");
  assert.equal(committed, policyCrdYaml());
});
