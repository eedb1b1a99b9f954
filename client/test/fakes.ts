/** An in-memory API (the event log, GET /ws/, GET /events) and a socket the test drives by hand. */
import type { Fetch } from "../src/api.js";
import type { TransportEvents, TransportFactory } from "../src/transport.js";
import type { MailEvent } from "../src/types.js";

export const newMessage = (seq: number): MailEvent => ({
  event: "new_message",
  message: { id: seq, sender_id: 1, sender_username: "sender", title: `m${seq}`, timestamp: "2026-01-01T00:00:00Z", unread_count: seq },
  unread_count: seq,
  seq,
});

export const unreadCount = (seq: number, count: number): MailEvent => ({ event: "unread_count_updated", unread_count: count, seq });

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export class FakeApi {
  readonly log: MailEvent[] = [];
  /** Events up to this seq have been swept. */
  sweptThrough = 0;
  /** The next GET /events calls answer 503. */
  failEvents = 0;
  /** The next GET /ws/ calls answer 429 with this Retry-After (seconds). */
  refuseNegotiation: { times: number; retryAfter: number } = { times: 0, retryAfter: 0 };
  /** Resolves GET /events answers only when released (to hold a catch-up open). */
  gate: Promise<void> | undefined;
  readonly calls: { path: string; authorization: string | null; at: number }[] = [];

  append(...events: MailEvent[]): void {
    this.log.push(...events);
  }

  get latest(): number {
    return this.log.at(-1)?.seq ?? 0;
  }

  fetch: Fetch = async (input, init) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    this.calls.push({ path: url.pathname + url.search, authorization: headers.get("authorization"), at: Date.now() });
    if (init?.signal?.aborted) throw new DOMException("aborted", "AbortError");
    if (url.pathname === "/ws/") {
      if (this.refuseNegotiation.times > 0) {
        this.refuseNegotiation.times--;
        return json(429, { detail: "Too many sockets" }, { "retry-after": String(this.refuseNegotiation.retryAfter) });
      }
      return json(200, { url: "ws://fake/client/hubs/h", expires_at: "2030-01-01T00:00:00Z" });
    }
    if (url.pathname !== "/events") return json(404, { detail: "Not Found" });
    if (this.gate) await this.gate;
    if (this.failEvents > 0) {
      this.failEvents--;
      return json(503, { detail: "The database is unavailable; try again shortly" });
    }
    const after = Number(url.searchParams.get("after"));
    const limit = Number(url.searchParams.get("limit"));
    if (after < this.sweptThrough)
      return json(410, { detail: `Events after seq ${after} are no longer kept; reload the mailbox`, latest_seq: this.latest });
    const events = this.log.filter((e) => e.seq > after).slice(0, limit);
    return json(200, { events, latest_seq: this.latest });
  };

  eventCalls(): string[] {
    return this.calls.map((c) => c.path).filter((p) => p.startsWith("/events"));
  }

  negotiations(): number {
    return this.calls.filter((c) => c.path === "/ws/").length;
  }
}

/** One socket the connection opened; the test says when it connects, what arrives and when it ends. */
export interface FakeSocket {
  events: TransportEvents;
  started: boolean;
  stopped: boolean;
}

export function fakeTransport(options: { autoConnect?: boolean } = {}): { factory: TransportFactory; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  const factory: TransportFactory = (getClientAccessUrl, events) => {
    const socket: FakeSocket = { events, started: false, stopped: false };
    sockets.push(socket);
    return {
      async start() {
        await getClientAccessUrl();
        socket.started = true;
        if (options.autoConnect !== false) queueMicrotask(() => !socket.stopped && events.connected());
      },
      stop() {
        socket.stopped = true;
      },
    };
  };
  return { factory, sockets };
}

export async function until(condition: () => boolean, what = "condition", timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
