/** The events and statistics of a consumer (single-key or router). Key ids only, never key bytes. */
import type { ServingState } from "./ring-clock.ts";
import type { Rejection } from "./ring-source.ts";

export type { Rejection };

/** One completed TLS handshake. */
export interface HandshakeEvent {
  /** tlsSocket.isSessionReused(): the client resumed from a ticket. */
  resumed: boolean;
  /** keyId() of the key of the server that took the connection. */
  keyId: string;
  /** That key's state at that moment. */
  keyState: ServingState;
}

/** A live key, as shown in events. */
export interface KeySummary {
  id: string;
  state: ServingState;
  activeFrom: Date;
  activeUntil: Date;
  expiresAt: Date;
}

/** The keys in force changed: a new ring arrived ("update") or a key changed state ("schedule"). */
export interface RingEvent {
  /** keyId() of the key that encrypts from now on. */
  activeKey: string;
  keys: KeySummary[];
  cause: "update" | "schedule";
  at: Date;
}

/** Handshake counts, to compute the resumption rate. */
export interface HandshakeCounts {
  resumed: number;
  full: number;
}

export interface ConsumerStats extends HandshakeCounts {
  byKeyState: Record<ServingState, HandshakeCounts>;
  rejectedUpdates: number;
  sourceErrors: number;
  /** keyId() of the key that encrypts. */
  activeKey: string | undefined;
  /** When the last new ring was accepted. */
  lastUpdate: Date | undefined;
}

/** The events every consumer emits. */
export interface ConsumerEvents {
  handshake: [HandshakeEvent];
  ring: [RingEvent];
  rejected: [Rejection];
}
