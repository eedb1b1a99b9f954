/**
 * Settings every test process starts with. DATABASE_URL is a placeholder until a test asks
 * for a database (test/support/database.ts); nothing connects before then.
 */
process.env.SECRET_KEY ??= "test-only-secret-key-0123456789-abcdefghijklmnop";
process.env.BCRYPT_COST = "4";
process.env.DATABASE_URL ??= "postgresql://placeholder.invalid:1/none";
process.env.DB_CONNECTION_TIMEOUT_MS ??= "3000";
// Suites register and log in many users from one address; test/throttle.test.ts sets tight limits.
process.env.REGISTRATIONS_PER_ADDRESS ??= "1000000";
process.env.LOGIN_FAILURES_PER_ADDRESS ??= "1000000";
process.env.LOGIN_FAILURES_PER_USER_ADDRESS ??= "1000000";
// Suites open and reopen many sockets for one user; test/socket-limits.test.ts sets tight limits.
process.env.WS_MAX_CONNECTIONS_PER_USER ??= "1000";
process.env.WS_NEGOTIATE_PER_MINUTE ??= "100000";
process.env.LOGIN_ATTEMPTS_PER_ACCOUNT ??= "1000000";
process.env.LOGIN_ATTEMPTS_PER_ADDRESS ??= "1000000";
// Suites send many messages; the limit tests (test/send-limits.test.ts) use the production values.
process.env.SEND_LIMIT_BURST ??= "1000000";
process.env.SEND_LIMIT_PER_HOUR ??= "1000000";
process.env.SEND_LIMIT_PER_RECIPIENT_PER_HOUR ??= "1000000";

// Function files register through the same registry the local host uses, as with the real worker.
import { installFunctionsCore } from "../../local/functions-core";
installFunctionsCore();
