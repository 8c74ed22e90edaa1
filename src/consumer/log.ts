/** The logger the library uses when the caller passes none. */
import { createLogger, type Logger } from "../observability/log.ts";

export type { Logger };

let shared: Logger | undefined;

/** One pino logger for the process ("ticket-key-operator/consumer", level from LOG_LEVEL or info). */
export function defaultLogger(): Logger {
  shared ??= createLogger({ name: "ticket-key-operator/consumer" });
  return shared;
}
