/**
 * Attachments in a real browser: on the example page (examples/browser) in headless Chromium, one
 * user attaches files, which the client library uploads straight to azurite (one PUT for the small
 * one, blocks for the large one), and sends them; the recipient's page lists them as the message
 * arrives and downloads each from storage, and the bytes saved are the bytes chosen.
 *
 * Chromium as in test/e2e/browser.test.ts (Debian's `chromium`, or CHROMIUM_PATH); without it the
 * test is skipped on a developer machine and fails in CI (CI set), which installs it.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";

import { registerOverHttp, TEST_PASSWORD, type HttpUser } from "../support/api";
import { useBrowserExample } from "../support/browser-example";
import { CHROMIUM, skipWithout } from "../support/needs-tool";

const skip = skipWithout(CHROMIUM, "test/e2e/browser-attachments.test.ts");

describe.skipIf(skip)("the example page sends files and the recipient downloads them", () => {
  const env = useBrowserExample({ storage: true });
  let sender: HttpUser;
  let reader: HttpUser;

  beforeAll(async () => {
    sender = await registerOverHttp(env.api, "browser_files_sender");
    reader = await registerOverHttp(env.api, "browser_files_reader");
  });

  /** A page of its own (own storage and session) logged in as `user`, its socket connected. */
  async function logIn(user: HttpUser): Promise<Page> {
    const page = await (await env.browser.newContext({ acceptDownloads: true })).newPage();
    await page.goto(env.pageUrl);
    await page.fill("#login input[name=username]", user.username);
    await page.fill("#login input[name=password]", TEST_PASSWORD);
    await page.click("#login button");
    await expect.poll(() => page.textContent("#state"), { timeout: 15_000 }).toBe("connected");
    return page;
  }

  it("uploads with progress, sends, and the recipient saves the same bytes under the same names", async () => {
    const readerPage = await logIn(reader);
    const senderPage = await logIn(sender);
    // Larger than the client's 4 MiB single-shot limit, so it goes up in blocks.
    const large = { name: "measurements.bin", mimeType: "application/octet-stream", buffer: randomBytes(9 * 1024 * 1024 + 17) };
    const small = { name: "notes – été.txt", mimeType: "text/plain", buffer: Buffer.from("bonjour, voilà les notes\n") };

    await senderPage.fill("#compose input[name=to]", String(reader.id));
    await senderPage.fill("#compose input[name=title]", "two files");
    await senderPage.fill("#compose input[name=body]", "see attached");
    await senderPage.setInputFiles("#compose input[name=files]", [large, small]);
    await senderPage.click("#compose button");
    await expect.poll(() => senderPage.textContent("#sent"), { timeout: 30_000 }).toMatch(/^sent message \d+ with 2 file\(s\)$/);
    expect(await senderPage.textContent("#error")).toBe("");
    expect(await senderPage.locator("#progress").evaluate((bar) => (bar as unknown as { value: number }).value)).toBe(1);

    const listed = readerPage.locator("#files li");
    await expect.poll(() => listed.count(), { timeout: 15_000 }).toBe(2);
    for (const file of [large, small]) {
      const item = listed.filter({ hasText: file.name });
      expect(await item.textContent()).toContain(`${file.name} (${file.buffer.length} bytes, from ${sender.username})`);
      const [download] = await Promise.all([readerPage.waitForEvent("download"), item.locator("button").click()]);
      expect(download.suggestedFilename()).toBe(file.name);
      const saved = await readFile((await download.path())!);
      expect(saved.length).toBe(file.buffer.length);
      expect(saved.equals(file.buffer), file.name).toBe(true);
    }
    expect(await readerPage.textContent("#error")).toBe("");
  }, 90_000);
});
