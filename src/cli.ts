#!/usr/bin/env node
/** The `ticket-key-operator` command: `controller` and (later) `sidecar` subcommands. */
import { controllerUsage, runController } from "./controller/main.ts";

const usage = `Usage: ticket-key-operator <command> [flags]

Commands:
  controller   run the TicketKeyPolicy controller
  help         show this help

Run 'ticket-key-operator <command> --help' for a command's flags.
`;

const [command, ...rest] = process.argv.slice(2);
try {
  switch (command) {
    case "controller":
      await runController(rest);
      break;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${usage}\n${controllerUsage}`);
      break;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`);
      process.exitCode = 2;
  }
} catch (err) {
  // Bad flags or configuration: say so once and exit (servers may already be listening).
  process.stderr.write(`ticket-key-operator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
