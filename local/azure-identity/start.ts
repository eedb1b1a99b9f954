/**
 * `npm run start:azure-identity`: the whole service with exactly the settings Azure gives it
 * (POSTGRES_*, AZURE_CLIENT_ID, WEBPUBSUB_ENDPOINT, IDENTITY_ENDPOINT/IDENTITY_HEADER; no
 * DATABASE_URL, no connection string), against the local identity endpoint, the token-checking
 * PostgreSQL sign-in in front of the server named by ADMIN_DATABASE_URL (or TEST_DATABASE_URL),
 * and the Web PubSub stand-in in Entra mode.
 */
import { spawnApp, type RunningApp } from "./spawn-app";
import { startAzureIdentityStack } from "./stack";

async function main(): Promise<void> {
  const adminUrl = process.env.ADMIN_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("set ADMIN_DATABASE_URL to an administrator URL of a PostgreSQL server that trusts local connections");
  const port = process.env.PORT ? Number(process.env.PORT) : 7071;
  let app: RunningApp | undefined;
  const stack = await startAzureIdentityStack({
    adminUrl,
    names: { role: "id-realtime-mail-local", database: "realtime_mail_identity", keep: true },
    appUrl: () => app?.url,
    log: (line) => console.log(line),
  });
  try {
    app = await spawnApp(stack.appSettings(), { port, echo: true });
  } catch (error) {
    await stack.close();
    throw error;
  }
  console.log(`identity endpoint: ${stack.identity.url} (client id ${stack.identity.issuer.clientId})`);
  console.log(`postgresql sign-in: ${stack.postgres.host}:${stack.postgres.port} as "${stack.role}", database "${stack.database}"`);
  console.log(`web pubsub (Entra): ${stack.webPubSub.endpoint}`);
  console.log(`blob storage (azurite, OAuth): ${stack.storage.blobEndpoint}`);
  console.log(`API ready: ${app.url}  (docs: ${app.url}/docs)`);
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await app?.stop();
    await stack.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  app.child.once("exit", () => {
    if (!stopping) void stack.close().then(() => process.exit(1));
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
