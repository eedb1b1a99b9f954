/**
 * Staying signed in, in a real browser: the example page (examples/browser) in headless Chromium
 * against the local stack with access tokens that live 3 seconds. Across several expiries its
 * requests keep answering without a new login (the client library renews before expiry), and a
 * sign-out from another device reaches the page as a definitive sign-out.
 *
 * Chromium as in test/e2e/browser.test.ts (Debian's `chromium`, or CHROMIUM_PATH).
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";

import { registerOverHttp, TEST_PASSWORD, type HttpUser } from "../support/api";
import { useBrowserExample } from "../support/browser-example";
import { CHROMIUM, skipWithout } from "../support/needs-tool";

const skip = skipWithout(CHROMIUM, "test/e2e/browser-session.test.ts");
const TOKEN_LIFE_S = 3;

describe.skipIf(skip)("the example page stays signed in across access-token expiries", () => {
  // Read when the stack starts (in the helper's beforeAll, which runs after this line).
  process.env.ACCESS_TOKEN_EXPIRE_MINUTES = String(TOKEN_LIFE_S / 60);
  const env = useBrowserExample();
  let page: Page;
  let reader: HttpUser;

  beforeAll(async () => {
    reader = await registerOverHttp(env.api, "browser_session_reader");
    page = await env.browser.newPage();
  });

  const text = (id: string) => page.textContent(`#${id}`);

  it("keeps answering through several expiries with no new login, renewing the token each time", async () => {
    await page.goto(env.pageUrl);
    await page.fill("input[name=username]", reader.username);
    await page.fill("input[name=password]", TEST_PASSWORD);
    await page.click("#login button");
    await expect.poll(() => text("who"), { timeout: 15_000 }).toBe(reader.username);
    const started = Date.now();
    for (let check = 0; check < 4; check++) {
      await page.$eval("#checked", (element) => (element.textContent = "?"));
      await page.click("#check");
      await expect.poll(() => text("checked"), { timeout: 10_000 }).toBe("0");
      await page.waitForTimeout(TOKEN_LIFE_S * 700);
    }
    // Several lifetimes passed: without renewal the requests would have met an expired token.
    expect(Date.now() - started).toBeGreaterThan(2 * TOKEN_LIFE_S * 1000);
    expect(Number(await text("renewals"))).toBeGreaterThanOrEqual(2);
    expect(await text("error")).not.toMatch(/Signed out/);
  }, 60_000);

  it("reports a definitive sign-out when another device signs out everywhere", async () => {
    const other = await fetch(`${env.api}/token`, {
      method: "POST",
      body: new URLSearchParams({ username: reader.username, password: TEST_PASSWORD }),
    });
    const { access_token } = (await other.json()) as { access_token: string };
    const everywhere = await fetch(`${env.api}/users/me/sessions`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(everywhere.status).toBe(204);
    await page.click("#check");
    await expect.poll(() => text("state"), { timeout: 15_000 }).toBe("signed out");
    expect(await text("error")).toMatch(/Signed out \((refresh_refused|access_refused)\)/);
  }, 30_000);
});
