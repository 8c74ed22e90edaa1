/**
 * Structured JSON logs (pino). Key material never reaches a log: the paths that could hold it
 * are redacted, and callers log key ids only.
 */
import { pino, type Logger } from "pino";
import { apiFailure, clientMessage } from "../kube/errors.ts";

export type { Logger };

export const redactPaths = [
  "data",
  "*.data",
  "stringData",
  "*.stringData",
  "seed",
  "*.seed",
  "keys[*].seed",
  "*.keys[*].seed",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
];

export function createLogger(options: {
  level?: string;
  name: string;
  destination?: NodeJS.WritableStream;
}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env["LOG_LEVEL"] ?? "info",
      redact: { paths: redactPaths, censor: "[redacted]" },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

/**
 * A one-line, key-free description of any thrown value for logs, events and status: for an error
 * of the API client, the HTTP status and the API's message (never the request's headers).
 */
export function describeError(err: unknown): string {
  const failure = apiFailure(err);
  if (failure.status !== undefined) {
    const reason = failure.reason === undefined ? "" : ` ${failure.reason}`;
    const detail = failure.message ?? (err instanceof Error ? clientMessage(err.message) : "");
    return `HTTP ${failure.status}${reason}${detail ? `: ${detail}` : ""}`;
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    // A string code ("ENOENT") is often in the message already; a number (an exit code) is not.
    const withCode =
      (typeof code === "string" && !err.message.includes(code)) || typeof code === "number"
        ? `${err.message} (code ${String(code)})`
        : err.message;
    // The cause, unless the message already says it, and never a parser's message (JSON.parse
    // quotes its input, which may be a ring).
    const cause = err.cause;
    return cause instanceof Error && !(cause instanceof SyntaxError) && !withCode.includes(cause.message)
      ? `${withCode} (${cause.message})`
      : withCode;
  }
  return String(err);
}
