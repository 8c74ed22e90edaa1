export { durationPattern, formatDuration, parseDuration } from "./duration.ts";
export {
  activeKey,
  keyId,
  keyState,
  liveKeys,
  maxRingKeys,
  nextStateChange,
  parseRing,
  RingFormatError,
  serializeRing,
  type Key,
  type KeyState,
  type Ring,
} from "./ring.ts";
export { derivationInfoPrefix, renderKey } from "./derive.ts";
export {
  ciphers,
  formats,
  orderedForHaproxy,
  orderedForServing,
  renderAts,
  renderEnvoySds,
  renderFormat,
  renderGo,
  renderHaproxy,
  renderingSize,
  renderNginx,
  renderNode,
  renderSecretData,
  type Cipher,
  type Format,
  type RenderingOptions,
} from "./renderings.ts";
export {
  nextRing,
  type Random,
  type RingChange,
  type ScheduleInput,
  type ScheduleResult,
  type ScheduleSpec,
} from "./schedule.ts";
export { expiryCoalesceMs } from "./schedule.ts";
