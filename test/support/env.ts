/**
 * Settings every test process starts with. DATABASE_URL is a placeholder until a test asks
 * for a database (test/support/database.ts); nothing connects before then.
 */
import { installFunctionsCore } from "../../local/functions-core";
import { liftLimits } from "./lifted-limits";

process.env.SECRET_KEY ??= "test-only-secret-key-0123456789-abcdefghijklmnop";
process.env.BCRYPT_COST = "4";
process.env.DATABASE_URL ??= "postgresql://placeholder.invalid:1/none";
process.env.DB_CONNECTION_TIMEOUT_MS ??= "3000";
// Suites register, log in, send and reconnect far more than a person would; each limit's own test sets it.
liftLimits();

// Function files register through the same registry the local host uses, as with the real worker.
installFunctionsCore();
