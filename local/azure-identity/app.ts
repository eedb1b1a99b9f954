/**
 * The app as Azure runs it, in a process of its own: only the environment it is started with
 * (no local.settings.json, no DATABASE_URL, no connection string), so the identity, the CA
 * trusted through NODE_EXTRA_CA_CERTS and every cache start cold, as on a new instance.
 * Prints `ready <url>` once it serves.
 */
import path from "node:path";

import { getConfig } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";
import { parseCors } from "../cors";
import { startHost } from "../host";
import { loadFunctions } from "../load-functions";
import { readHostJson } from "../settings";
import { READY } from "./spawn-app";

const ROOT = path.resolve(__dirname, "../..");

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? "0");
  const functions = await loadFunctions(path.join(ROOT, "functions"));
  // The worker's appStart hook (shared/http/startup.ts) does this in Azure; the local host runs no hooks.
  if (getConfig().migrateOnStart) {
    try {
      const { applied } = await migrate(getPool());
      if (applied.length) console.log(`applied migrations ${applied.join(", ")}`);
    } catch (error) {
      console.error(`database migration failed: ${(error as Error).message}`);
    }
  }
  const host = await startHost({
    functions,
    routePrefix: readHostJson(ROOT).routePrefix,
    cors: parseCors(undefined, false),
    port,
    log: (line) => console.log(line),
  });
  console.log(`${READY}${host.url}`);
  const stop = () => host.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
