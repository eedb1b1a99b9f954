/** The two API calls the client makes: GET /ws/ (a socket URL) and GET /events (catch-up). */
import type { EventsGone, EventsPage, MailEvent, NegotiationAnswer } from "./types.js";

export type Fetch = typeof fetch;

export interface Api {
  apiUrl: string;
  getToken(): string | Promise<string>;
  fetch: Fetch;
}

/** A refused or failed call; `retryAfterMs` when the server said when to come back. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Catch-up answers: a page, or "gone" when the events after that point are no longer kept. */
export type CatchUpAnswer = { kind: "page"; page: EventsPage } | { kind: "gone"; latestSeq: number };

const url = (api: Api, path: string) => `${api.apiUrl.replace(/\/+$/, "")}${path}`;

async function call(api: Api, path: string, signal: AbortSignal): Promise<Response> {
  const token = await api.getToken();
  return api.fetch(url(api, path), { headers: { authorization: `Bearer ${token}` }, signal });
}

function retryAfterMs(res: Response): number | undefined {
  const seconds = Number(res.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

async function refusal(res: Response, what: string): Promise<ApiError> {
  let detail = "";
  try {
    const body = (await res.json()) as { detail?: unknown };
    if (typeof body.detail === "string") detail = `: ${body.detail}`;
  } catch {
    // A proxy's HTML error page says nothing useful.
  }
  return new ApiError(`${what} answered ${res.status}${detail}`, res.status, retryAfterMs(res));
}

export async function negotiate(api: Api, signal: AbortSignal): Promise<string> {
  const res = await call(api, "/ws/", signal);
  if (!res.ok) throw await refusal(res, "GET /ws/");
  const answer = (await res.json()) as NegotiationAnswer;
  if (typeof answer.url !== "string") throw new ApiError("GET /ws/ answered without a url", res.status);
  return answer.url;
}

export async function eventsAfter(api: Api, after: number, limit: number, signal: AbortSignal): Promise<CatchUpAnswer> {
  const res = await call(api, `/events?after=${after}&limit=${limit}`, signal);
  if (res.status === 410) {
    const body = (await res.json()) as Partial<EventsGone>;
    if (typeof body.latest_seq !== "number") throw new ApiError("GET /events answered 410 without latest_seq", 410);
    return { kind: "gone", latestSeq: body.latest_seq };
  }
  if (!res.ok) throw await refusal(res, "GET /events");
  const page = (await res.json()) as EventsPage;
  if (!Array.isArray(page.events) || typeof page.latest_seq !== "number" || !page.events.every(isMailEvent)) {
    throw new ApiError("GET /events answered with an unexpected body", res.status);
  }
  return { kind: "page", page };
}

/** The shape every frame shares; the rest is the server's own type. */
export function isMailEvent(value: unknown): value is MailEvent {
  if (typeof value !== "object" || value === null) return false;
  const frame = value as { event?: unknown; seq?: unknown };
  return typeof frame.event === "string" && Number.isSafeInteger(frame.seq) && (frame.seq as number) >= 0;
}
