/**
 * The client library in a real browser: the example page (examples/browser, bundled by
 * esbuild) in headless Chromium against the local stack shows live mail, and after its socket
 * is cut, and after Web PubSub restarts knowing no session, shows what arrived meanwhile
 * without reloading.
 *
 * Chromium is Debian's `chromium` package (CHROMIUM_PATH to use another). Without it the
 * test is skipped on a developer machine and fails in CI (CI set), which installs it.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_HUB } from "../../shared/config/config";
import { registerOverHttp, sendOverHttp, TEST_PASSWORD, type HttpUser } from "../support/api";
import { useBrowserExample } from "../support/browser-example";
import { CHROMIUM, skipWithout } from "../support/needs-tool";
import { standInOutage, type StandInOutage } from "../support/webpubsub-outage";

const skip = skipWithout(CHROMIUM, "test/e2e/browser.test.ts");

describe.skipIf(skip)("the example page in headless Chromium", () => {
  const env = useBrowserExample();
  let outage: StandInOutage;
  let page: Page;
  let sender: HttpUser;
  let reader: HttpUser;

  beforeAll(async () => {
    outage = standInOutage(env.stack);
    sender = await registerOverHttp(env.api, "browser_sender");
    reader = await registerOverHttp(env.api, "browser_reader");
    page = await env.browser.newPage();
  });
  afterAll(async () => {
    await outage?.stop();
  });

  const mail = () => page.locator("#mail li").allTextContents();
  const send = (title: string) => sendOverHttp(env.api, sender, reader.id, title);

  it("logs in and shows live mail", async () => {
    await page.goto(env.pageUrl);
    await page.fill("input[name=username]", reader.username);
    await page.fill("input[name=password]", TEST_PASSWORD);
    await page.click("button");
    await expect.poll(() => page.textContent("#state"), { timeout: 15_000 }).toBe("connected");
    await expect.poll(() => page.textContent("#unread"), { timeout: 10_000 }).toBe("0");
    // Marks this page load: a reload would lose it.
    await page.evaluate(() => Object.assign(globalThis, { loadedOnce: true }));

    await send("first");
    await expect.poll(mail, { timeout: 10_000 }).toEqual(["browser_sender: first"]);
    expect(await page.textContent("#unread")).toBe("1");
  });

  it("shows what arrived while its socket was cut, without reloading", async () => {
    expect(env.stack.webPubSub?.dropSockets(DEFAULT_HUB, String(reader.id))).toBe(1);
    await send("during drop");
    await expect.poll(mail, { timeout: 15_000 }).toEqual(["browser_sender: during drop", "browser_sender: first"]);
    expect(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
  });

  it("shows what was sent while Web PubSub was down, once it is back, without reloading", async () => {
    await outage.stop();
    await send("while down 1");
    await send("while down 2");
    env.stack.webPubSub = await outage.restart();
    await expect
      .poll(mail, { timeout: 30_000 })
      .toEqual(["browser_sender: while down 2", "browser_sender: while down 1", "browser_sender: during drop", "browser_sender: first"]);
    expect(await page.textContent("#unread")).toBe("4");
    expect(await page.textContent("#seq")).toBe("4");
    expect(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    expect(await page.textContent("#error")).not.toMatch(/answered 4\d\d/);
  });
});
