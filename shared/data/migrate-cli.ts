/** `npm run migrate`: applies pending migrations to the configured database and exits. */
import { parseDatabaseConfig } from "../config/config";
import { closePool, getPool } from "./db";
import { migrate } from "./migrate";

async function main(): Promise<void> {
  const { applied, current } = await migrate(getPool(parseDatabaseConfig(process.env)));
  console.log(
    applied.length ? `applied migrations ${applied.join(", ")}; schema at version ${current}` : `schema up to date at version ${current}`,
  );
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => closePool());
