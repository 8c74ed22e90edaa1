/**
 * How tests, the demo and the benchmarks run the `ticket-key-operator` command: from the sources
 * (src/cli.ts, run by Node as they are) or from a built bundle, what the image ships
 * (dist/bin/ticket-key-operator.mjs after `npm run build`): set TKO_OPERATOR_BIN to its path, or
 * pass it.
 */
const sourceEntry = "src/cli.ts";

export function operatorArgs(args: string[], bin = process.env["TKO_OPERATOR_BIN"]): string[] {
  return [bin ?? sourceEntry, ...args];
}
