/** Which failures count as "the database is unavailable" (503) and which are bugs (500). */
import { describe, expect, it } from "vitest";

import { DatabaseUnavailableError, isDatabaseUnavailable } from "../../shared/data/db-errors";

const withCode = (code: string, message = "failed") => Object.assign(new Error(message), { code });

describe("isDatabaseUnavailable", () => {
  it.each([
    [
      "57P01 admin_shutdown (pg_terminate_backend, fast shutdown)",
      withCode("57P01", "terminating connection due to administrator command"),
    ],
    ["57P02 crash_shutdown", withCode("57P02")],
    ["57P03 cannot_connect_now (starting up, shutting down)", withCode("57P03", "the database system is starting up")],
    ["57P05 idle_session_timeout", withCode("57P05")],
    ["57014 statement timeout", withCode("57014", "canceling statement due to statement timeout")],
    ["08006 connection failure", withCode("08006")],
    ["53300 too many connections", withCode("53300")],
    ["53100 disk full", withCode("53100")],
    ["ECONNREFUSED", withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")],
    ["ECONNRESET", withCode("ECONNRESET", "read ECONNRESET")],
    ["a socket closed mid-query", new Error("Connection terminated unexpectedly")],
    ["the pool's connect timeout", new Error("timeout exceeded when trying to connect")],
    [
      "a new client's connect timeout",
      new Error("Connection terminated due to connection timeout", { cause: new Error("Connection terminated unexpectedly") }),
    ],
    ["a query on a failed client", new Error("Client has encountered a connection error and is not queryable")],
    ["a query on a closed client", new Error("Client was closed and is not queryable")],
    ["the query read timeout", new Error("Query read timeout")],
    ["a refused connect to every address of a name", new AggregateError([withCode("ECONNREFUSED"), withCode("ECONNREFUSED")], "")],
    ["a wrapped cause", new Error("migration 3 failed", { cause: withCode("57P01") })],
    ["no Entra token", new DatabaseUnavailableError("no Microsoft Entra token for PostgreSQL")],
    ["28P01 the server refused the app's own sign-in", withCode("28P01", "password authentication failed")],
    ["28000 invalid authorization", withCode("28000")],
  ])("counts %s", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ["a unique violation", withCode("23505")],
    ["a syntax error", withCode("42601")],
    ["an undefined table", withCode("42P01", 'relation "x" does not exist')],
    ["a serialization failure code of another class", withCode("40001")],
    ["a plain bug", new TypeError("cannot read properties of undefined")],
    ["a non-error", "Connection terminated"],
  ])("does not count %s", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
