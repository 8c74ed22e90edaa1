/**
 * What can go wrong while the sidecar updates a server. Each failure has a kind (the `kind`
 * label of ticketkeys_sidecar_failures_total) and a one-line message that says what failed and
 * what to check. Messages never contain key material: keys are named by keyId() at most.
 */

export const failureKinds = [
  /** ring.json was malformed or looked tampered with: the last good ring stays in force */
  "ring-rejected",
  /** the source could not read the ring (API unreachable, file unreadable); it retries */
  "source",
  /** a rendering could not be written into --out */
  "write",
  /** no nginx master: pid file missing or stale, no process of that name */
  "nginx-pid",
  /** the nginx master could not be signalled (permissions) */
  "nginx-signal",
  /** the nginx master did not start new workers after SIGHUP (the reload failed or timed out) */
  "nginx-reload",
  /** the HAProxy admin socket could not be reached */
  "haproxy-socket",
  /** HAProxy refused or did not understand a runtime API command */
  "haproxy-command",
  /** after the update, HAProxy does not hold the expected keys */
  "haproxy-verify",
  /** the --exec command failed, timed out or could not start */
  "exec",
  /** anything unexpected (a bug): retried and reported like the others */
  "internal",
] as const;

export type FailureKind = (typeof failureKinds)[number];

export class SidecarFailure extends Error {
  override readonly name = "SidecarFailure";
  readonly kind: FailureKind;

  constructor(kind: FailureKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** Long base64 or hex runs, as a server's output could hold key bytes: never repeated in a message. */
const keyLike = /[A-Za-z0-9+/]{40,}={0,2}|[0-9a-fA-F]{40,}/g;

/** A server's output made safe for a log line: key-like runs replaced, one line, bounded. */
export function sanitize(text: string, max = 200): string {
  const line = text.replace(keyLike, "[redacted]").replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

/** The errno code of a Node system error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
