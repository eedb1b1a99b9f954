/**
 * The service under test for the throughput benchmark: the local Functions host serving
 * every function (what `npm start` runs), against the database in DATABASE_URL and the Web
 * PubSub named by WEBPUBSUB_CONNECTION_STRING (empty: no pushes). Prints `{"url":...}`.
 */
import { startLocalStack } from "../../local/stack";

startLocalStack({ hostPort: 0, databaseUrl: process.env.DATABASE_URL, webPubSub: false })
  .then((stack) => {
    console.log(JSON.stringify({ url: stack.url }));
    process.on("SIGTERM", () => void stack.close().finally(() => process.exit(0)));
  })
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
