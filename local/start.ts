/**
 * `npm start`: the whole service on this machine with nothing but Node.
 * `npm start -- --services-only`: only the database and the Web PubSub stand-in, for `func start`.
 */
import path from "node:path";

import { SETTINGS } from "../shared/config/settings";
import { POSTGRES_MAJOR } from "./postgres/version";
import { readLocalSettings } from "./settings";
import { ROOT, startLocalStack } from "./stack";

async function main(): Promise<void> {
  const servicesOnly = process.argv.includes("--services-only");
  const port = process.env.PORT ? Number(process.env.PORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536))
    throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  const external = process.env[SETTINGS.databaseUrl];
  // A stack on another PORT keeps its data apart: one server per data folder.
  const dataFolder = port === undefined || port === readLocalSettings(ROOT).Host.LocalHttpPort ? "postgres" : `postgres-port-${port}`;
  const dataDir = path.join(ROOT, ".data", dataFolder);
  const stack = await startLocalStack({
    hostPort: servicesOnly ? null : port,
    databaseUrl: external,
    embedded: { dataDir },
    storage: { dataDir: path.join(ROOT, ".data", "azurite") },
    // `func start` reads the settings' addresses: the services must be there.
    exactPorts: servicesOnly,
    log: (line) => console.log(line),
  });
  console.log(
    `database:  ${external ? "DATABASE_URL" : `embedded PostgreSQL ${POSTGRES_MAJOR} (.data/${dataFolder}) at ${stack.databaseUrl}`}`,
  );
  if (stack.webPubSub) console.log(`web pubsub stand-in: ${stack.webPubSub.endpoint}`);
  if (stack.storage) console.log(`blob storage (azurite, .data/azurite): ${stack.storage.blobEndpoint}`);
  if (stack.url) {
    console.log(`API ready: ${stack.url}  (docs: ${stack.url}/docs)`);
  } else {
    console.log("services ready: now run `npm run start:func` in another terminal");
  }
  const stop = async () => {
    await stack.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
