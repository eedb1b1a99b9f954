/**
 * What the browser tests share: the example page (examples/browser) served, a database of their
 * own, the local stack allowing the page's origin, and headless Chromium (Debian's `chromium`, or
 * CHROMIUM_PATH), set up before a file's tests and stopped after them.
 */
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

import { serveExample, type ExampleServer } from "../../examples/browser/server";
import { startLocalStack, type LocalStack } from "../../local/stack";
import { createMigratedDatabase, type TestDatabase } from "./database";
import { CHROMIUM_PATH } from "./needs-tool";

export interface BrowserExample {
  stack: LocalStack;
  example: ExampleServer;
  browser: Browser;
  /** The stack's API address. */
  api: string;
  /** The example page, pointed at the stack's API. */
  pageUrl: string;
}

/** Registers the set-up and teardown in the calling `describe`; the fields are set once its beforeAll ran. */
export function useBrowserExample(options: { storage?: boolean } = {}): BrowserExample {
  const env = {} as BrowserExample;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    env.example = await serveExample();
    db = await createMigratedDatabase();
    env.stack = await startLocalStack({
      hostPort: 0,
      databaseUrl: db.url,
      webPubSubPort: 0,
      ...(options.storage ? { storage: { port: 0 } } : {}),
      corsOrigins: [env.example.origin],
    });
    env.api = env.stack.url as string;
    env.pageUrl = `${env.example.origin}/?api=${encodeURIComponent(env.api)}`;
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    env.browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ["--no-sandbox"] });
  }, 90_000);
  afterAll(async () => {
    await env.browser?.close();
    await env.stack?.close();
    await env.example?.close();
    await db?.close();
  });
  return env;
}
