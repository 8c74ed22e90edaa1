/**
 * The package's public entry points: `ticket-key-operator/consumer` (the library) and
 * `ticket-key-operator/sidecar` (its first name, kept for existing code) are one module, and
 * every export and the bin name a file that the build makes from src/ (tsc: src/X.ts -> dist/X.js).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { it } from "node:test";
import { repoRoot } from "../../scripts/render-manifests.ts";

interface Entry {
  types: string;
  default: string;
}
const pkg = JSON.parse(readFileSync(`${repoRoot}package.json`, "utf8")) as {
  exports: Record<string, Entry | string>;
  bin: Record<string, string>;
  files: string[];
};

it("exports ./consumer and ./sidecar as the same module", () => {
  assert.deepEqual(pkg.exports["./sidecar"], pkg.exports["./consumer"]);
});

it("every export is built from a source file that exists", () => {
  for (const [name, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === "string") continue;
    const source = entry.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts");
    assert.ok(existsSync(`${repoRoot}${source}`), `${name} -> ${entry.default}: ${source} is missing`);
    assert.equal(entry.types, entry.default.replace(/\.js$/, ".d.ts"), `${name}: types beside the module`);
  }
});

it("the bin is a file of the package", () => {
  const bin = pkg.bin["ticket-key-operator"]!;
  assert.ok(existsSync(`${repoRoot}${bin}`), bin);
  assert.ok(pkg.files.includes(bin.split("/")[0]!), `${bin} is in "files"`);
});
