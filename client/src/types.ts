/**
 * The wire types, taken from the API's own modules by type-only imports: nothing of the
 * server is bundled, and a change to an event or schema there fails this package's type check.
 */
import type { z } from "zod";

import type { Frame, RealtimeEvent } from "../../shared/domain/events.js";
import type { EventsGoneBody, EventsPage as EventsPageSchema, Negotiation, Token } from "../../shared/http/schemas.js";

/** A frame as pushed and as GET /events returns it: an event and the user's sequence number. */
export type MailEvent = Frame;

/** The answer of GET /ws/. */
export type NegotiationAnswer = z.infer<typeof Negotiation>;

/** The answer of GET /events (200); its frames are the events the server's own type names. */
export type EventsPage = Omit<z.infer<typeof EventsPageSchema>, "events"> & { events: MailEvent[] };

/** The answer of GET /events when the events after that point were swept (410). */
export type EventsGone = z.infer<typeof EventsGoneBody>;

/** The answer of POST /token (a login or a renewal). */
export type TokenAnswer = z.infer<typeof Token>;

export type { RealtimeEvent };
