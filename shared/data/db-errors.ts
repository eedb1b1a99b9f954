/** Decides whether an error means "the database cannot serve us now" (503) rather than a bug (500). */
const UNAVAILABLE_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

// SQLSTATE class 08 connection exception and class 53 insufficient resources (too many
// connections, out of memory, disk full) are matched by prefix. Class 57 operator intervention:
// 57P01 admin_shutdown (pg_terminate_backend, fast shutdown), 57P02 crash_shutdown, 57P03
// cannot_connect_now (starting up, shutting down), 57P05 idle_session_timeout, and 57014
// query_canceled (our statement timeout). 28000/28P01: the server refused the app's own
// sign-in (e.g. its identity's token), which no client request can fix.
const UNAVAILABLE_SQLSTATE_CLASSES = ["08", "53"];
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "57P05", "57014", "28000", "28P01"]);

// What pg and pg-pool say when a connection cannot be had or was lost.
const UNAVAILABLE_MESSAGES = [
  "timeout exceeded when trying to connect", // pool: no client free within connectionTimeoutMillis
  "Connection terminated", // "... unexpectedly" (socket closed) and "... due to connection timeout"
  "connection timeout",
  "Client has encountered a connection error", // a query on a client whose connection failed
  "Client was closed and is not queryable",
  "Query read timeout", // query_timeout: the server stopped answering mid-query
  "Cannot use a pool after calling end",
];

export class DatabaseUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseUnavailableError";
  }
}

function isUnavailableCode(code: unknown): boolean {
  if (typeof code !== "string") return false;
  return (
    UNAVAILABLE_NODE_CODES.has(code) ||
    UNAVAILABLE_SQLSTATES.has(code) ||
    UNAVAILABLE_SQLSTATE_CLASSES.some((c) => code.length === 5 && code.startsWith(c))
  );
}

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error) || depth > 5) return false;
  if (isUnavailableCode((error as { code?: unknown }).code)) return true;
  if (UNAVAILABLE_MESSAGES.some((m) => error.message.includes(m))) return true;
  // Node reports a failed connect to every address of a name (localhost: ::1 and 127.0.0.1) as one AggregateError.
  if (error instanceof AggregateError && error.errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isDatabaseUnavailable(cause, depth + 1);
}

/** SQLSTATE 23505: a unique constraint refused the row. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === "23505";
}

/** SQLSTATE 23503 on the named constraint: the row points at something that does not exist. */
export function isForeignKeyViolation(error: unknown, constraint: string): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === "23503" &&
    (error as { constraint?: unknown }).constraint === constraint
  );
}

/** The database refused the statement with this SQLSTATE (one of ours, raised on purpose, or PostgreSQL's). */
export function hasSqlState(error: unknown, sqlState: string): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === sqlState;
}
