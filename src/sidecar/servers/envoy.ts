/**
 * Envoy: the SDS file envoy-sds.yaml (the core rendering: one `ticket-keys` Secret of
 * session_ticket_keys, 80-byte keys, active first). Envoy reloads it by itself: configure
 * `session_ticket_keys_sds_secret_config` with `sds_config.path_config_source` naming the file
 * and `watched_directory` naming --out. Envoy reloads the path when an entry of the watched
 * directory is MOVED to, which is exactly the atomic write's rename; nothing else to do here.
 */
import type { Ring } from "../../core/index.ts";
import { envoyFiles } from "../renderings.ts";
import type { NotifyResult, Rendering, ServerAdapter } from "./server.ts";

export class EnvoyServer implements ServerAdapter {
  readonly kind = "envoy";

  render(ring: Ring, now: number): Rendering {
    return { files: envoyFiles(ring, now) };
  }

  notify(): Promise<NotifyResult> {
    return Promise.resolve({ action: "none", changed: false });
  }
}
