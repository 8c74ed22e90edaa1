/**
 * Structured JSON logs (pino). Key material never reaches a log: the paths that could hold it
 * are redacted, and callers log key ids only.
 */
import { pino, type Logger } from "pino";

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

/** A short, key-free description of any thrown value for logs and events. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" || typeof code === "number"
      ? `${err.message} (code ${String(code)})`
      : err.message;
  }
  return String(err);
}
