/**
 * A `json.reliable.webpubsub.azure.v1` session: what outlives one WebSocket of a connection id.
 * Data messages are numbered; those the client has not acked are kept (up to a bound) and sent
 * again, in order, when the client reconnects with the session's reconnection token.
 */
import { randomBytes } from "node:crypto";

import { sameSecret } from "../../shared/domain/secrets";

export const RELIABLE_SUBPROTOCOL = "json.reliable.webpubsub.azure.v1";

/** How long a dropped session waits for its client by default: the client retries for about a minute. */
export const DEFAULT_SESSION_RETENTION_MS = 60_000;
/** The service's bounds on a session's unacked messages: whichever is passed first ends the session. */
export const DEFAULT_MAX_UNACKED_MESSAGES = 1_000;
export const DEFAULT_MAX_UNACKED_BYTES = 16 * 1024 * 1024;

export interface ReliableLimits {
  /** How long a session whose socket dropped is kept for its client to come back. */
  retentionMs: number;
  /** Unacked data messages a session may hold; one more ends the session. */
  maxUnacked: number;
  /** Bytes of unacked frames a session may hold; a message that would pass it ends the session. */
  maxUnackedBytes: number;
}

interface Held {
  sequenceId: number;
  text: string;
  bytes: number;
}

export class ReliableSession {
  readonly reconnectionToken = randomBytes(24).toString("base64url");
  private nextSequenceId = 1;
  private readonly unacked: Held[] = [];
  private unackedBytes = 0;
  private expiry: NodeJS.Timeout | undefined;

  constructor(readonly limits: ReliableLimits) {}

  /** The frame's text with its sequence id, held until acked; null when holding it would pass the bound. */
  number(frame: object): string | null {
    if (this.unacked.length >= this.limits.maxUnacked) return null;
    const sequenceId = this.nextSequenceId;
    const text = JSON.stringify({ ...frame, sequenceId });
    const bytes = Buffer.byteLength(text);
    if (this.unackedBytes + bytes > this.limits.maxUnackedBytes) return null;
    this.nextSequenceId++;
    this.unacked.push({ sequenceId, text, bytes });
    this.unackedBytes += bytes;
    return text;
  }

  /** A sequence ack covers every id up to and including it. */
  ack(sequenceId: number): void {
    let acked = 0;
    while (acked < this.unacked.length && this.unacked[acked].sequenceId <= sequenceId) this.unackedBytes -= this.unacked[acked++].bytes;
    this.unacked.splice(0, acked);
  }

  /** What a reconnecting client gets again, oldest first. */
  pending(): string[] {
    return this.unacked.map((held) => held.text);
  }

  matches(token: string): boolean {
    return sameSecret(token, this.reconnectionToken);
  }

  /** Starts the reconnection window after a drop; `expire` ends the session if nobody comes back. */
  park(expire: () => void): void {
    this.resume();
    this.expiry = setTimeout(expire, this.limits.retentionMs);
    // A parked session must not keep a test process or `npm start` alive on its own.
    this.expiry.unref();
  }

  resume(): void {
    clearTimeout(this.expiry);
    this.expiry = undefined;
  }
}
