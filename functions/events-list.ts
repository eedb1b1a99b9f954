import "../shared/http/startup";

import { readEvents } from "../shared/data/event-log";
import { eventsGoneDetail } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { json } from "../shared/http/http";
import { EventsGoneBody, EventsPage, EventsQuery } from "../shared/http/schemas";

/**
 * Catch-up: the caller's realtime frames after a seq, exactly as pushed. A client loops until a
 * page is empty or reaches `latest_seq`; a 410 means some were swept, so it reloads its mailbox.
 */
export const eventsList = defineEndpoint({
  name: "events-list",
  method: "GET",
  route: "events",
  trailingSlash: true,
  summary: "Your realtime events after a seq, oldest first (catch-up after a disconnect)",
  auth: "bearer",
  query: EventsQuery,
  response: EventsPage,
  responseHeaders: {
    Link: 'RFC 8288 `</events?after=N&limit=L>; rel="next"` (N: the last seq of this page) while events above it remain',
  },
  errors: [410],
  errorBodies: { 410: EventsGoneBody },
  handler: async ({ request, user, query: { after, limit } }) => {
    const page = await readEvents(user.id, after, limit);
    if (page.kind === "gone") return json(410, { detail: eventsGoneDetail(after), latest_seq: page.latestSeq });
    const last = page.events.at(-1)?.seq;
    const headers: Record<string, string> = {};
    if (last !== undefined && last < page.latestSeq) {
      headers.Link = `<${new URL(request.url).pathname}?after=${last}&limit=${limit}>; rel="next"`;
      headers["Access-Control-Expose-Headers"] = "Link";
    }
    return json(200, { events: page.events, latest_seq: page.latestSeq }, headers);
  },
});
