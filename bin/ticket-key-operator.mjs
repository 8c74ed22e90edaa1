#!/usr/bin/env node
// The `ticket-key-operator` command. In a checkout (src/ is there) it runs the TypeScript
// sources, so `npx ticket-key-operator` works right after `npm ci` and never runs a stale build;
// in the published package and the image (no src/) it runs the bundle `npm run build` writes
// (dist/bin/ticket-key-operator.mjs, scripts/bundle.ts).
import { existsSync } from "node:fs";
import process from "node:process";
import { URL } from "node:url";

const sources = new URL("../src/cli.ts", import.meta.url);
const bundle = new URL("../dist/bin/ticket-key-operator.mjs", import.meta.url);
const fromSources = existsSync(sources);
const major = Number(process.versions.node.split(".")[0]);
if (fromSources && major < 24) {
  process.stderr.write(
    `ticket-key-operator: Node ${process.versions.node} cannot run the TypeScript sources; ` +
      "run it through npm (`npx ticket-key-operator`, which uses the project's Node 24) or with Node >= 24\n",
  );
  process.exit(2);
}
if (!fromSources && !existsSync(bundle)) {
  process.stderr.write(
    "ticket-key-operator: dist/bin/ticket-key-operator.mjs is missing: run `npm run build`\n",
  );
  process.exit(2);
}
await import((fromSources ? sources : bundle).href);
