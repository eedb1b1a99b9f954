/** `npm run example`: the local stack and the example page, which may call it (CORS). */
import { startLocalStack } from "../../local/stack";
import { serveExample } from "./server";

async function main(): Promise<void> {
  const page = await serveExample(Number(process.env.EXAMPLE_PORT ?? 5180));
  const stack = await startLocalStack({ corsOrigins: [page.origin], log: (line) => console.log(line) });
  console.log(`example page: ${page.origin}/?api=${encodeURIComponent(stack.url ?? "")}`);
  console.log("register a user with POST /users/ (or the docs page), log in on the page, and send it mail");
  const stop = async () => {
    await stack.close();
    await page.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
