/**
 * Sessions as the client sees them: a login starts one and answers the first token pair; a
 * refresh token buys the next pair once (rotation), and a spent one presented again ends the
 * session (reuse detection, OAuth 2.0 Security Best Current Practice 4.14).
 */
import type { HttpRequest } from "@azure/functions";

import { getConfig } from "../config/config";
import { inTransaction } from "../data/db";
import { endOtherSessions, reissueRefreshToken, rotateRefreshToken, startSession, type RotateOutcome } from "../data/sessions";
import { setPasswordHash } from "../data/users";
import type { UserPublicT } from "../domain/schemas";
import { isStorableText } from "../domain/text";
import { digestOf, looksLikeRefreshToken, newRefreshToken } from "./refresh-tokens";
import { accessTokenSeconds, issueAccessToken, signedUserId } from "./tokens";

export interface TokenPair {
  access_token: string;
  token_type: "bearer";
  refresh_token: string;
  expires_in: number;
}

const USER_AGENT_MAX = 255;

/** The User-Agent a session is listed with: cut to a bounded length, dropped if it cannot be stored. */
export function userAgentOf(request: HttpRequest): string | null {
  const agent = [...(request.headers.get("user-agent") ?? "").trim()].slice(0, USER_AGENT_MAX).join("");
  return agent && isStorableText(agent) ? agent : null;
}

const pairFor = (user: UserPublicT, sessionId: string, refreshToken: string): TokenPair => ({
  access_token: issueAccessToken(user, Date.now(), sessionId),
  token_type: "bearer",
  refresh_token: refreshToken,
  expires_in: accessTokenSeconds(),
});

/** Starts a session for a user who has just proven their password. */
export async function signIn(user: UserPublicT, userAgent: string | null): Promise<{ sessionId: string; tokens: TokenPair }> {
  const refresh = newRefreshToken();
  const sessionId = await startSession(user.id, userAgent, refresh.digest);
  return { sessionId, tokens: pairFor(user, sessionId, refresh.token) };
}

export type RefreshOutcome =
  { kind: "refreshed"; sessionId: string; user: UserPublicT; tokens: TokenPair } | Exclude<RotateOutcome, { kind: "rotated" }>;

/**
 * Spends a refresh token for the next pair; anything else (unknown, spent, idle, or a token of
 * another user than the access token sent with it, if any) is an outcome to refuse.
 */
export async function refreshSession(presented: string, accessToken?: string): Promise<RefreshOutcome> {
  if (!looksLikeRefreshToken(presented)) return { kind: "unknown" };
  const expectedUserId = accessToken ? signedUserId(accessToken) : null;
  if (accessToken && expectedUserId === null) return { kind: "unknown" };
  const successor = newRefreshToken();
  const outcome = await rotateRefreshToken(digestOf(presented), successor.digest, getConfig().sessionIdleDays, expectedUserId);
  if (outcome.kind !== "rotated") return outcome;
  return {
    kind: "refreshed",
    sessionId: outcome.sessionId,
    user: outcome.user,
    tokens: pairFor(outcome.user, outcome.sessionId, successor.token),
  };
}

/**
 * Stores a new password hash and ends every session but the caller's, in one transaction; the
 * caller's session goes on with a fresh pair (its earlier refresh tokens spent), or a new session
 * starts when the caller's token had none (or it ended meanwhile).
 */
export async function changePassword(
  user: UserPublicT,
  hashedPassword: string,
  currentSession: string | null,
  userAgent: string | null,
): Promise<{ sessionId: string; tokens: TokenPair; ended: string[] }> {
  const refresh = newRefreshToken();
  return inTransaction(async (tx) => {
    await setPasswordHash(user.id, hashedPassword, tx);
    const ended = await endOtherSessions(user.id, currentSession, tx);
    const goesOn = currentSession !== null && (await reissueRefreshToken(currentSession, refresh.digest, tx));
    const sessionId = goesOn ? currentSession : await startSession(user.id, userAgent, refresh.digest, tx);
    return { sessionId, tokens: pairFor(user, sessionId, refresh.token), ended };
  });
}
