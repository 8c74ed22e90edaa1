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
export { formatInstant, parseInstant } from "./ring-schema.ts";
export { derivationInfoPrefix, renderKey } from "./derive.ts";
export {
  atsFileName,
  envoyFileName,
  goFileName,
  haproxyFileName,
  nginxSlotName,
  nodeFileName,
  ringDataKey,
} from "./formats.ts";
export {
  base64Lines,
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
  renderNodeKey,
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
export { expiryCoalesceMs, maxClockBehindMs } from "./schedule.ts";
