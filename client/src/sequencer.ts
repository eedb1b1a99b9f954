/**
 * Puts one user's events in `seq` order and hands each to the app exactly once, whether it
 * came over the socket or from catch-up, and says when events are missing before a frame.
 */
import type { MailEvent } from "./types.js";

const UNREAD_COUNT_UPDATED: MailEvent["event"] = "unread_count_updated";

export class Sequencer {
  private position: number | undefined;
  private readonly held = new Map<number, MailEvent>();

  /** `after`: the last seq the app already has; undefined to start from the first frame. */
  constructor(
    after: number | undefined,
    private readonly deliver: (event: MailEvent) => void,
  ) {
    this.position = after;
  }

  /** The last seq handed to the app. */
  get seq(): number | undefined {
    return this.position;
  }

  /**
   * A frame from the socket. Returns true when events before it are missing, so the
   * caller should catch up. The connect-time snapshot (`unread_count_updated` carrying the
   * latest seq, not a seq of its own) looks like the logged event of that name, so either is
   * taken only as news that events up to its seq exist, except as the very first frame.
   */
  live(frame: MailEvent): boolean {
    if (this.position === undefined) {
      const isSnapshot = frame.event === UNREAD_COUNT_UPDATED;
      this.position = isSnapshot ? frame.seq : frame.seq - 1;
      if (isSnapshot) {
        this.deliver(frame);
        return false;
      }
    }
    if (frame.seq <= this.position) return false;
    if (frame.event === UNREAD_COUNT_UPDATED) return true;
    this.held.set(frame.seq, frame);
    return this.drain();
  }

  /** Delivers what was held back and is now in order; true when a gap remains. */
  release(): boolean {
    return this.drain();
  }

  /** Events from GET /events, oldest first and without gaps after `seq`. */
  caughtUp(events: readonly MailEvent[]): void {
    for (const event of events) {
      if (this.position !== undefined && event.seq <= this.position) continue;
      if (this.position !== undefined && event.seq !== this.position + 1) {
        throw new Error(`GET /events skipped from seq ${this.position} to ${event.seq}`);
      }
      this.position = event.seq;
      this.deliver(event);
    }
  }

  /** After the app reloaded its mailbox at `latestSeq`: nothing before it is due any more. */
  reload(latestSeq: number): void {
    this.position = latestSeq;
    for (const seq of this.held.keys()) if (seq <= latestSeq) this.held.delete(seq);
  }

  private drain(): boolean {
    if (this.position === undefined) return this.held.size > 0;
    for (let next = this.held.get(this.position + 1); next; next = this.held.get(this.position + 1)) {
      this.held.delete(next.seq);
      this.position = next.seq;
      this.deliver(next);
    }
    for (const seq of this.held.keys()) if (seq <= this.position) this.held.delete(seq);
    return this.held.size > 0;
  }
}
