/**
 * What the container image sets that the benchmarks and tests reproduce outside it: the
 * NODE_OPTIONS of the Dockerfile's final stage (its heap limits).
 */
import { readFileSync } from "node:fs";
import { repoRoot } from "./render-manifests.ts";

export function imageNodeOptions(dockerfile = readFileSync(`${repoRoot}Dockerfile`, "utf8")): string {
  const value = /\bNODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
  if (value === undefined) throw new Error("the Dockerfile sets no NODE_OPTIONS");
  return value;
}
