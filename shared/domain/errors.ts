/**
 * Every error sentence the API sends, in one place (the wire contract fixes most of them), and
 * the error that carries one with its status: thrown by any layer, answered by shared/http.
 */
export const ERRORS = {
  notAuthenticated: "Not authenticated",
  badCredentials: "Could not validate credentials",
  incorrectLogin: "Incorrect username or password",
  invalidRefreshToken: "The refresh token is invalid, expired or already used; log in again",
  currentPasswordIncorrect: "Current password is incorrect",
  passwordIncorrect: "Password is incorrect",
  sessionNotFound: "Session not found",
  sessionEnded: "This session has ended; log in again",
  accountDeleted: "This account has been deleted",
  usernameTaken: "Username already registered",
  tooManyLogins: "Too many failed logins; try again later",
  tooManyRegistrations: "Too many accounts registered from this address; try again later",
  tooManyMessages: "Too many messages; try again later",
  passwordHashingBusy: "Too many sign-ins at once; try again shortly",
  passwordHashingInterrupted: "Signing in was interrupted on our side; try again",
  recipientNotFound: "Recipient not found",
  messageNotFound: "Message not found",
  idempotencyKeyReused: "Idempotency-Key was already used for a different request",
  idempotentMessageDeleted: "The message sent with this Idempotency-Key has since been deleted",
  notFound: "Not Found",
  bodyTooLarge: "Request body is too large",
  unsupportedJson: "Unsupported media type: send the body as application/json",
  unsupportedForm: "Unsupported media type: send the form as application/x-www-form-urlencoded or multipart/form-data",
  databaseUnavailable: "The database is unavailable; try again shortly",
  realtimeUnavailable: "Realtime notifications are unavailable; try again shortly",
  storageUnavailable: "Attachment storage is unavailable; try again shortly",
  tooManyPendingUploads: "Too many uploads not yet attached to a message; send or wait for them to expire",
  tooManyPendingUploadBytes: "Too many bytes of uploads not yet attached to a message; send or wait for them to expire",
  attachmentNotFound: "Attachment not found",
  attachmentBeingScanned: "The attachment is being scanned for malware; try again shortly",
  attachmentMalicious: "The attachment was found to contain malware and cannot be downloaded",
  internal: "Internal Server Error",
  eventCallerRejected: "The caller of the event handler could not be authenticated",
  tooManySockets: "Too many open sockets for this user; close one and try again",
  tooManyNegotiations: "Too many socket negotiations; try again later",
  tooManyStateChanges: "Too many changes; try again later",
  socketOverLimit: "Too many open sockets for this user",
  socketTokenExpired: "The access token of this socket expired; negotiate a new one",
  databaseNotAnswering: "The database is not answering",
  notHubEvent: "Not a Web PubSub event for this hub",
  malformedWebPubSubEvent: "Malformed Web PubSub event",
  eventHandlerTimeout: "The event handler did not answer in time",
  // The HTTP layer's answers, before any function runs (local host and Web PubSub stand-in).
  missingHost: "The request has no Host header",
  malformedHost: "The Host header is malformed",
  malformedTarget: "The request target is malformed",
  malformedRequest: "The request is not valid HTTP/1.1",
  headersTooLarge: "The request line and headers are too large",
  requestTimeout: "The request took too long to arrive",
  unreadableBody: "The request body could not be read",
  methodNotAllowed: "Method Not Allowed",
  expectationFailed: "Only the Expect value 100-continue is supported",
  corsRefused: "CORS preflight refused: this origin is not allowed",
} as const;

/** The 413 of an upload slot. */
export const attachmentTooLargeDetail = (maxBytes: number): string => `An attachment may hold at most ${maxBytes} bytes`;

/** The 410 of the catch-up endpoint: the events after `after` are past the retention. */
export const eventsGoneDetail = (after: number): string => `Events after seq ${after} are no longer kept; reload the mailbox`;

/** GET /health's 503 while the schema and the code disagree. */
export const schemaMismatchDetail = (current: number, expected: number, failing: boolean): string =>
  `The database schema is at version ${current} but this code needs version ${expected}; migrations are ${failing ? "failing (see the logs)" : "pending"}`;

/** The 422 issue for text holding U+0000 or an unpaired surrogate (Pydantic's type for undecodable text). */
export const TEXT_ISSUE = {
  type: "string_unicode",
  msg: "Text must not contain U+0000 (NUL) or unpaired surrogate characters",
} as const;

/** The 422 issue for a new password found on the list of common passwords (shared/auth/common-passwords.ts). */
export const COMMON_PASSWORD_ISSUE = {
  type: "value_error",
  msg: "Value error, Password is too common: choose one that does not appear in lists of leaked passwords",
} as const;

export const MARKED_READ_MESSAGE = "Mensagem marcada como lida";
export const MARKED_UNREAD_MESSAGE = "Mensagem marcada como não lida";

export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
}

/** An error with a status and a `detail`, thrown anywhere below a handler and answered as-is. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string | ValidationIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === "string" ? detail : "Validation error");
    this.name = "HttpError";
  }
}

export const validationError = (issues: ValidationIssue[]): HttpError => new HttpError(422, issues);
