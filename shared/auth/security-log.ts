/**
 * Security events (ASVS 7.2), one structured log line each: a JSON object with the event's name,
 * its outcome, the user id (null when none is known) and the client address, and nothing a client
 * typed (no password, token, username as typed or message text). One typed function per event, so
 * every caller writes the same fields and a search for `"security_event"` finds them all.
 */

/** Where a line goes: the invocation's logger in a function (traces in Application Insights). */
export interface SecurityLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

export type SecurityEvent =
  | "login_succeeded"
  | "login_failed"
  | "login_throttled"
  | "registration_throttled"
  | "token_rejected"
  | "request_throttled"
  | "event_caller_refused"
  | "refresh_token_reused"
  | "password_changed"
  | "password_change_failed"
  | "signed_out"
  | "signed_out_everywhere"
  | "account_deleted"
  | "account_deletion_failed";

export interface SecurityLine {
  security_event: SecurityEvent;
  outcome: "success" | "failure" | "refused";
  user_id: number | null;
  /** The session the event concerns (shared/auth/sessions.ts), when there is one. */
  session_id?: string | null;
  client_address: string;
  /** How many sessions the event ended (a password change, signing out everywhere, a deletion). */
  ended_sessions?: number;
  /** A fixed word or phrase from our code saying why, never text from the request. */
  reason?: string;
  /** Whole seconds the client was told to wait (throttling). */
  retry_after?: number;
}

function write(log: SecurityLogger, line: SecurityLine): void {
  const text = JSON.stringify(line);
  if (line.outcome === "success") log.info(text);
  else log.warn(text);
}

interface Who {
  userId: number | null;
  address: string;
}

/** A signed-in user's own action on their account: who, from which session and address. */
interface Actor {
  userId: number;
  sessionId: string | null;
  address: string;
}

const account = (
  log: SecurityLogger,
  event: SecurityEvent,
  outcome: SecurityLine["outcome"],
  { userId, sessionId, address }: Actor,
  extra: Pick<SecurityLine, "ended_sessions" | "reason"> = {},
) => write(log, { security_event: event, outcome, user_id: userId, session_id: sessionId, client_address: address, ...extra });

export const securityLog = {
  /** A login that started session `sessionId`. */
  loginSucceeded: (log: SecurityLogger, { userId, sessionId, address }: Actor, reason: "password" | "password_known_device") =>
    account(log, "login_succeeded", "success", { userId, sessionId, address }, { reason }),

  /** A wrong password or an unknown username (user id null). */
  loginFailed: (log: SecurityLogger, { userId, address }: Who) =>
    write(log, {
      security_event: "login_failed",
      outcome: "failure",
      user_id: userId,
      client_address: address,
      reason: userId === null ? "unknown_username" : "wrong_password",
    }),

  /** A login refused by a limiter before its password was checked. */
  loginThrottled: (log: SecurityLogger, { userId, address }: Who, retryAfter: number) =>
    write(log, {
      security_event: "login_throttled",
      outcome: "refused",
      user_id: userId,
      client_address: address,
      retry_after: retryAfter,
    }),

  registrationThrottled: (log: SecurityLogger, address: string, retryAfter: number) =>
    write(log, {
      security_event: "registration_throttled",
      outcome: "refused",
      user_id: null,
      client_address: address,
      retry_after: retryAfter,
    }),

  /** A bearer token that is not ours, expired, or names a user who is gone. */
  tokenRejected: (log: SecurityLogger, { userId, address }: Who) =>
    write(log, { security_event: "token_rejected", outcome: "refused", user_id: userId, client_address: address, reason: "invalid_token" }),

  /** A signed-in user's request refused by a limiter (sends, state changes, socket negotiations). */
  requestThrottled: (log: SecurityLogger, { userId, address }: Who & { userId: number }, limit: string, retryAfter: number) =>
    write(log, {
      security_event: "request_throttled",
      outcome: "refused",
      user_id: userId,
      client_address: address,
      reason: limit,
      retry_after: retryAfter,
    }),

  /** A spent refresh token presented again: its session has been ended (reuse detection). */
  refreshTokenReused: (log: SecurityLogger, who: Actor) =>
    account(log, "refresh_token_reused", "refused", who, { reason: "session_ended" }),

  passwordChanged: (log: SecurityLogger, who: Actor, endedSessions: number) =>
    account(log, "password_changed", "success", who, { ended_sessions: endedSessions }),

  /** The current password given was wrong (counted as a failed login). */
  passwordChangeFailed: (log: SecurityLogger, who: Actor) =>
    account(log, "password_change_failed", "failure", who, { reason: "wrong_password" }),

  /** One session signed out (`sessionId` is the one ended; the caller's may differ). */
  signedOut: (log: SecurityLogger, who: Actor) => account(log, "signed_out", "success", who),

  signedOutEverywhere: (log: SecurityLogger, who: Actor, endedSessions: number) =>
    account(log, "signed_out_everywhere", "success", who, { ended_sessions: endedSessions }),

  accountDeleted: (log: SecurityLogger, who: Actor, endedSessions: number) =>
    account(log, "account_deleted", "success", who, { ended_sessions: endedSessions }),

  /** The password given to delete the account was wrong (counted as a failed login); nothing changed. */
  accountDeletionFailed: (log: SecurityLogger, who: Actor) =>
    account(log, "account_deletion_failed", "failure", who, { reason: "wrong_password" }),

  /** A call to the Web PubSub event handler without the key or a valid signature. */
  eventCallerRefused: (log: SecurityLogger, address: string) =>
    write(log, { security_event: "event_caller_refused", outcome: "refused", user_id: null, client_address: address }),
};
