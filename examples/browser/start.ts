/** `npm run example`: the local stack (with azurite) and the example page, which may call both (CORS). */
import { startLocalStack } from "../../local/stack";
import { serveExample } from "./server";

async function main(): Promise<void> {
  const page = await serveExample(Number(process.env.EXAMPLE_PORT ?? 5180));
  // Azurite in memory, so that the page can attach files; its CORS allows the page's origin.
  const stack = await startLocalStack({ corsOrigins: [page.origin], storage: {}, log: (line) => console.log(line) });
  console.log(`example page: ${page.origin}/?api=${encodeURIComponent(stack.url ?? "")}`);
  console.log("register two users with POST /users/ (or the docs page), log in as each on a page of its own, and send mail with files");
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
