/**
 * What the sidecar does for one kind of server: render the files it reads (a constant set of
 * names), and tell it about them. The updater writes the files (atomically, unchanged files
 * skipped) between the two steps, and retries a failed notification with backoff.
 */
import type { Ring } from "../../core/index.ts";

export const serverKinds = ["nginx", "haproxy", "envoy", "files"] as const;
export type ServerKind = (typeof serverKinds)[number];

export interface Rendering {
  /** File name in --out -> bytes, written in this order. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** The keys the server's runtime must hold, when it has one (HAProxy), oldest first. */
  readonly runtimeKeys?: readonly Buffer[];
}

export interface NotifyContext {
  /**
   * True when the server already confirmed exactly these files (a previous notification of the
   * same rendering succeeded): servers that only re-read files (nginx) have nothing to do.
   */
  confirmed: boolean;
}

export interface NotifyResult {
  /** What was done, for the log line: "reloaded", "pushed 1 key", "in sync", "none". */
  action: string;
  /** Whether the server's keys changed (false: it already held them, or it is not told). */
  changed: boolean;
}

export interface ServerAdapter {
  readonly kind: ServerKind;
  /** The files (and runtime keys) for `ring` at `now`. Pure. */
  render(ring: Ring, now: number): Rendering;
  /** Tells the server. Throws a SidecarFailure; the updater retries with backoff. */
  notify(rendering: Rendering, context: NotifyContext): Promise<NotifyResult>;
}
