/**
 * Staying signed in: logs in through POST /token, renews the access token with the refresh token
 * before it expires (timed from `expires_in`, so the client's clock does not matter), retries a
 * request once after a 401 with a renewed token, and tells the app once when the session is over
 * for good (signed out here or elsewhere, password changed on another device, refresh refused).
 *
 * Refresh tokens are single use and a spent one presented again ends the session on the server,
 * so renewals never overlap: every caller waits on the one renewal in flight.
 */
import type { Fetch } from "./api.js";
import type { TokenAnswer } from "./types.js";

/** Why the session ended: the app shows its login again. */
export type SignedOutReason = "signed_out" | "refresh_refused" | "access_refused";

export interface SessionOptions {
  /** The API's base URL, e.g. "https://mail.example.com". */
  apiUrl: string;
  fetch?: Fetch;
  /** Called once when the session has ended for good; later calls fail until the next logIn. */
  onSignedOut?(reason: SignedOutReason): void;
  /** Renew this long before the access token expires (default: a quarter of its life, at most 60 s). */
  refreshMarginMs?: number;
  /** Called after each new pair (login or renewal), e.g. to keep the refresh token across page loads. */
  onTokens?(tokens: TokenAnswer): void;
}

export interface Session {
  readonly signedIn: boolean;
  /** Renewals since the last login (for display and tests). */
  readonly renewals: number;
  logIn(username: string, password: string): Promise<void>;
  /** Resumes from a refresh token kept by the app (onTokens); renews at once. */
  resume(refreshToken: string): Promise<void>;
  /** An access token valid for at least the margin, renewed first if needed. Fit for `connect({ getToken })`. */
  getToken(): Promise<string>;
  /** `fetch` against the API with the bearer token; after a 401, renews once and retries once. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Signs this session out on the server (DELETE /users/me/sessions/{id}) and here. */
  signOut(): Promise<void>;
  /** Stops the renewal timer without signing out. */
  stop(): void;
}

export class SignedOutError extends Error {
  constructor(readonly reason: SignedOutReason) {
    super(`Signed out (${reason}); log in again`);
    this.name = "SignedOutError";
  }
}

const MAX_MARGIN_MS = 60_000;

interface Current {
  access: string;
  refresh: string;
  expiresAt: number;
  lifeMs: number;
}

export function createSession(options: SessionOptions): Session {
  const base = options.apiUrl.replace(/\/+$/, "");
  const doFetch: Fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let current: Current | undefined;
  let renewing: Promise<string> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let renewals = 0;
  /** Why the last session ended, so later calls say the same. */
  let ended: SignedOutReason = "signed_out";

  const margin = (lifeMs: number) => options.refreshMarginMs ?? Math.min(MAX_MARGIN_MS, lifeMs / 4);

  function adopt(answer: TokenAnswer): string {
    const lifeMs = answer.expires_in * 1000;
    current = { access: answer.access_token, refresh: answer.refresh_token, expiresAt: Date.now() + lifeMs, lifeMs };
    clearTimeout(timer);
    // Renew ahead of expiry even while the app is idle, so its next request never waits.
    timer = setTimeout(() => void renew().catch(() => {}), Math.max(0, lifeMs - margin(lifeMs)));
    options.onTokens?.(answer);
    return answer.access_token;
  }

  function end(reason: SignedOutReason): SignedOutError {
    const wasSignedIn = current !== undefined;
    current = undefined;
    ended = reason;
    clearTimeout(timer);
    if (wasSignedIn) options.onSignedOut?.(reason);
    return new SignedOutError(reason);
  }

  async function tokenCall(form: Record<string, string>): Promise<Response> {
    return doFetch(`${base}/token`, { method: "POST", body: new URLSearchParams(form) });
  }

  function renew(): Promise<string> {
    if (renewing) return renewing;
    const refresh = current?.refresh;
    if (!refresh) return Promise.reject(new SignedOutError(ended));
    renewing = (async () => {
      const res = await tokenCall({ grant_type: "refresh_token", refresh_token: refresh });
      if (res.status === 401) throw end("refresh_refused");
      if (!res.ok) throw new Error(`POST /token (refresh) answered ${res.status}`);
      renewals++;
      return adopt((await res.json()) as TokenAnswer);
    })().finally(() => {
      renewing = undefined;
    });
    return renewing;
  }

  async function getToken(): Promise<string> {
    if (renewing) return renewing;
    if (!current) throw new SignedOutError(ended);
    if (Date.now() < current.expiresAt - margin(current.lifeMs)) return current.access;
    return renew();
  }

  const authorized = (token: string, init: RequestInit = {}): RequestInit => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    return { ...init, headers };
  };

  return {
    get signedIn() {
      return current !== undefined;
    },
    get renewals() {
      return renewals;
    },
    async logIn(username, password) {
      const res = await tokenCall({ username, password });
      if (!res.ok) throw new Error(`POST /token answered ${res.status}`);
      renewals = 0;
      adopt((await res.json()) as TokenAnswer);
    },
    async resume(refreshToken) {
      current = { access: "", refresh: refreshToken, expiresAt: 0, lifeMs: 0 };
      renewals = 0;
      await renew();
    },
    getToken,
    async fetch(path, init) {
      const token = await getToken();
      const first = await doFetch(`${base}${path}`, authorized(token, init));
      if (first.status !== 401) return first;
      // The token may have been refused because its session ended: a renewal tells (401 = over).
      const fresh = current?.access === token ? await renew() : await getToken();
      const second = await doFetch(`${base}${path}`, authorized(fresh, init));
      if (second.status === 401) throw end("access_refused");
      return second;
    },
    async signOut() {
      const token = current?.access;
      if (token) {
        const sid = sessionIdOf(token);
        if (sid) await doFetch(`${base}/users/me/sessions/${sid}`, authorized(token, { method: "DELETE" })).catch(() => undefined);
      }
      end("signed_out");
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** The session id (`sid`) an access token names, read without verifying: only the server verifies. */
function sessionIdOf(token: string): string | undefined {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload)) as { sid?: unknown };
    return typeof claims.sid === "string" ? claims.sid : undefined;
  } catch {
    return undefined;
  }
}
