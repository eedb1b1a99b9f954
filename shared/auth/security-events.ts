/**
 * Security events: one structured line each (JSON), so a log query can follow one user, session or
 * address. Only identifiers and outcomes go in: never a password, token or message text.
 */
export const SECURITY_EVENTS = {
  loginSucceeded: "login_succeeded",
  loginFailed: "login_failed",
  loginThrottled: "login_throttled",
  refreshReused: "refresh_token_reused",
  passwordChanged: "password_changed",
  passwordChangeFailed: "password_change_failed",
  signedOut: "signed_out",
  signedOutEverywhere: "signed_out_everywhere",
  accountDeleted: "account_deleted",
  accountDeletionFailed: "account_deletion_failed",
} as const;

export type SecurityEventName = (typeof SECURITY_EVENTS)[keyof typeof SECURITY_EVENTS];

export interface SecurityEvent {
  event: SecurityEventName;
  user_id: number | null;
  session_id: string | null;
  client_address: string;
  /** Sessions ended by the event, when they are others than `session_id`. */
  ended_sessions?: number;
  reason?: string;
}

export interface SecurityLog {
  info(...args: unknown[]): void;
}

export function logSecurityEvent(log: SecurityLog, event: SecurityEvent): void {
  const { event: name, ...fields } = event;
  log.info(JSON.stringify({ security_event: name, ...fields, at: new Date().toISOString() }));
}
