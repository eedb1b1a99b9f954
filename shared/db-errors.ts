/** Decides whether an error means "the database cannot serve us now" (503) rather than a bug (500). */
const UNAVAILABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "EHOSTUNREACH"]);

// SQLSTATE classes and codes: 08 connection exception, 53 insufficient resources,
// 57P01-03 shutdown / cannot connect now, 57014 statement timeout; 28000/28P01 the server
// refused the app's own sign-in (e.g. its identity's token), which no client request can fix.
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "57014", "53300", "53400", "28000", "28P01"]);

const UNAVAILABLE_MESSAGES = [
  "timeout exceeded when trying to connect",
  "Connection terminated",
  "connection timeout",
  "Client has encountered a connection error",
  "Cannot use a pool after calling end",
];

export class DatabaseUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseUnavailableError";
  }
}

export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08")) return true;
  }
  if (UNAVAILABLE_MESSAGES.some((m) => error.message.includes(m))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isDatabaseUnavailable(cause);
}

/** SQLSTATE 23505: a unique constraint refused the row. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === "23505";
}

/** SQLSTATE 23503 on the named constraint: the row points at something that does not exist. */
export function isForeignKeyViolation(error: unknown, constraint: string): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === "23503" && (error as { constraint?: unknown }).constraint === constraint;
}
