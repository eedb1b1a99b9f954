/**
 * The wire types, taken from the API's own modules by type-only imports: nothing of the
 * server is bundled, and a change to an event or schema there fails this package's type check.
 */
import type { z } from "zod";
import type { Negotiation } from "../../shared/http/schemas.js";
import type { RealtimeEvent } from "../../shared/realtime/events.js";

/** A frame as pushed and as GET /events returns it: an event and the user's sequence number. */
export type MailEvent = RealtimeEvent & { seq: number };

/** The answer of GET /ws/. */
export type NegotiationAnswer = z.infer<typeof Negotiation>;

/** The answer of GET /events (200), and the 410 one's `latest_seq`. */
export interface EventsPage {
  events: MailEvent[];
  latest_seq: number;
}

export type { RealtimeEvent };
