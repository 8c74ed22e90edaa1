/** Short descriptions of API errors for logs and status: the status code and the server's message. */
import { ApiException } from "@kubernetes/client-node";

interface StatusBody {
  message?: string;
  reason?: string;
}

export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    let body: StatusBody = {};
    try {
      body = (typeof err.body === "string" ? JSON.parse(err.body) : err.body) as StatusBody;
    } catch {
      // not JSON
    }
    return `HTTP ${err.code}${body.reason ? ` ${body.reason}` : ""}: ${body.message ?? "no message"}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
