#!/usr/bin/env node
/**
 * The `ticket-key-operator` command: `controller` and `sidecar` subcommands. Each loads only
 * its own code (the sidecar does not load the controller).
 */
const usage = `Usage: ticket-key-operator <command> [flags]

Commands:
  controller   run the TicketKeyPolicy controller
  sidecar      run beside nginx, HAProxy or Envoy and keep its session ticket keys current
  help         show this help

Run 'ticket-key-operator <command> --help' for a command's flags.
`;

const [command, ...rest] = process.argv.slice(2);
try {
  switch (command) {
    case "controller": {
      const { runController } = await import("./controller/main.ts");
      await runController(rest);
      break;
    }
    case "sidecar": {
      const { runSidecar } = await import("./sidecar/main.ts");
      await runSidecar(rest);
      break;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h": {
      const [{ controllerUsage }, { sidecarUsage }] = await Promise.all([
        import("./controller/main.ts"),
        import("./sidecar/main.ts"),
      ]);
      process.stdout.write(`${usage}\n${controllerUsage}\n${sidecarUsage}`);
      break;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`);
      process.exitCode = 2;
  }
} catch (err) {
  // Bad flags or configuration: say so once and exit (servers may already be listening).
  process.stderr.write(`ticket-key-operator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
