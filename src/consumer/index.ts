/**
 * ticket-key-operator/consumer (also exported as ticket-key-operator/sidecar, its first name): shares a TicketKeyPolicy's session ticket keys with Node.js TLS
 * servers (tls, https, http2), hot, from the Kubernetes API or a mounted Secret directory.
 *
 * - single-key mode, `shareTicketKeys(server, { kubernetes: { namespace, name } })`: the server's
 *   one ticket key is switched at each activation instant of the ring;
 * - multi-key mode, `createRouter({ kubernetes: {...}, createServer })`: a net.Server in front
 *   of one server per live key, so tickets of pending and retired keys still resume.
 *
 * Key material never appears in logs, events, errors or metrics: keys are named by keyId().
 */

/** Single-key mode: share the ring's keys with one existing server (resolves once its key is set). */
export { shareTicketKeys, attachSingleKey, SingleKeyConsumer } from "./single-key.ts";
export type { ShareTicketKeysOptions, SingleKeyEvents } from "./single-key.ts";

/** Multi-key mode: a router in front of one server per live key. */
export { createRouter, TicketKeyRouter } from "./router.ts";
export type { CreateRouterOptions, RouterOptions, RouterEvents, KeyServerInfo } from "./router.ts";
/** The factory the router builds each key's server with. */
export type { KeyServerFactory } from "./key-servers.ts";

/** Sources: the Kubernetes API, a mounted Secret directory, rings pushed by hand. */
export { kubernetesSource, KubernetesRingSource } from "./sources/kubernetes.ts";
export type { KubernetesSourceOptions } from "./sources/kubernetes.ts";
export { directorySource, DirectoryRingSource } from "./sources/directory.ts";
export type { DirectorySourceOptions } from "./sources/directory.ts";
export { manualSource, ManualRingSource } from "./sources/manual.ts";
export { BaseRingSource } from "./ring-source.ts";
export type { RingSource, RingSourceEvents, RingSourceOptions, Rejection } from "./ring-source.ts";
export type { SourceChoice } from "./source-choice.ts";

/** RBAC: the minimal Role (get, list, watch on one Secret) and the error when it is missing. */
export {
  AccessDeniedError,
  minimalRole,
  minimalRoleBinding,
  requiredVerbs,
} from "./sources/kubernetes-access.ts";

/** The validation of ring updates and the clock that turns a ring into key switches. */
export { RingState } from "./ring-state.ts";
export type { RingStateOptions, RingVerdict } from "./ring-state.ts";
export { RingClock, servingStates } from "./ring-clock.ts";
export type { RingClockOptions, RingView, ServingState } from "./ring-clock.ts";
export { systemClock, maxTimerMs } from "./clock.ts";
export type { Clock } from "./clock.ts";

/** Observability: prom-client metrics (ticketkeys_consumer_*), events and statistics. */
export { consumerMetrics, routeOutcomes } from "./metrics.ts";
export type { ConsumerMetrics, RouteOutcome } from "./metrics.ts";
export type { ConsumerOptions } from "./consumer.ts";
export type {
  ConsumerEvents,
  ConsumerStats,
  HandshakeCounts,
  HandshakeEvent,
  KeySummary,
  RingEvent,
} from "./events.ts";

/** The ring types and helpers of the core, for callers that build or inspect rings. */
export { keyId, parseRing, serializeRing, RingFormatError } from "../core/index.ts";
export type { Key, Ring } from "../core/index.ts";
