/**
 * Reading the errors of @kubernetes/client-node for logs, status and decisions: the HTTP status and
 * the API's Status message, without request headers. Pure (duck-typed, no client import), so the
 * sidecar library can use it without loading the client.
 */

/** The HTTP status and the Status message of an error thrown by the API client or its Watch. */
export interface ApiFailure {
  status: number | undefined;
  /** The `message` of the API's Status body, if any. */
  message: string | undefined;
  reason: string | undefined;
}

function statusBody(body: unknown): { message?: unknown; reason?: unknown } {
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === "object" && parsed !== null ? parsed : {};
    } catch {
      // Not a Status: a proxy's or the API server's plain text ("404 page not found").
      const line = body.trim().split("\n")[0]?.slice(0, 200);
      return line ? { message: line } : {};
    }
  }
  return typeof body === "object" && body !== null ? body : {};
}

/**
 * Reads an ApiException (`code`, `body`: the Status, as text or parsed) or a Watch error
 * (`statusCode`, no body).
 */
export function apiFailure(error: unknown): ApiFailure {
  if (typeof error !== "object" || error === null) {
    return { status: undefined, message: undefined, reason: undefined };
  }
  const e = error as { code?: unknown; statusCode?: unknown; body?: unknown };
  // An ApiException carries `code`, `body` and `headers` (other errors may have a numeric
  // `code` too, e.g. a process's exit code); a Watch error carries `statusCode`.
  const status =
    typeof e.code === "number" && "body" in e && "headers" in e
      ? e.code
      : typeof e.statusCode === "number"
        ? e.statusCode
        : undefined;
  const body = statusBody(e.body);
  return {
    status,
    message: typeof body.message === "string" ? body.message : undefined,
    reason: typeof body.reason === "string" ? body.reason : undefined,
  };
}

/** The message of an ApiException ("HTTP-Code: 500\nMessage: ...\nBody: ...") or a Watch error. */
export function clientMessage(text: string): string {
  return /\nMessage: ([^\n]*)/.exec(text)?.[1] ?? text.split("\n")[0] ?? "";
}
