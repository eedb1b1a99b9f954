/**
 * A local stack in a process of its own, for tests that kill it: `node --import tsx
 * test/support/stack-process.ts <data folder>` opens the stack on free ports with the embedded
 * database in that folder and prints one JSON line with its addresses.
 */
import { startLocalStack } from "../../local/stack";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: stack-process.ts <data folder>");

startLocalStack({ hostPort: 0, embedded: { dataDir }, webPubSubPort: 0 }).then(
  (stack) => console.log(JSON.stringify({ url: stack.url, databaseUrl: stack.databaseUrl })),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
