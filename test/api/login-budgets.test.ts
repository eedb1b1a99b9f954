/**
 * Login budgets keyed by the account a name resolves to, at their production values
 * (docs/reliability.md, Abuse: budgets keyed by the account). Attack 1: look-alike spellings of a name (fullwidth letters, which log in to the
 * same account by NFKC) had budgets of their own. Attack 2: refused attempts from one address
 * still spent the account's budget, so 31 wrong logins locked the owner out everywhere. Once the
 * account's budget is spent anyway, a device that logged in before is still heard.
 */
import { describe, expect, it } from "vitest";

import { expectTooManyLogins, login, newAccount, PASSWORD, useProductionLoginLimits } from "../support/production-logins";

const PER_USER_ADDRESS = 10;
const PER_ACCOUNT = 30;
const WRONG = "wrong horse battery";

useProductionLoginLimits();

/** `name` with its i-th letter (of the first few) in its fullwidth form: NFKC makes it `name` again. */
const fullwidthAt = (name: string, i: number) =>
  [...name].map((c, j) => (j === i ? String.fromCodePoint(c.codePointAt(0)! - 0x21 + 0xff01) : c)).join("");

/** Every spelling of `name` with one or two letters fullwidth. */
function variants(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < name.length; i++) {
    out.push(fullwidthAt(name, i));
    for (let j = i + 1; j < name.length; j++) out.push(fullwidthAt(fullwidthAt(name, i), j));
  }
  return out;
}

describe("look-alike spellings share the account's budgets (attack 1)", () => {
  it("a fullwidth variant of a throttled name is throttled too, right password included", async () => {
    await newAccount("victoria");
    const spellings = variants("victoria");
    expect(spellings.length).toBeGreaterThanOrEqual(36);
    expect(new Set(spellings.map((s) => s.normalize("NFKC")))).toEqual(new Set(["victoria"]));
    for (let i = 0; i < PER_USER_ADDRESS; i++) expect((await login("victoria", WRONG, "203.0.113.1")).status).toBe(401);
    expectTooManyLogins(await login("victoria", WRONG, "203.0.113.1"));
    for (const spelling of spellings.slice(0, 5)) expectTooManyLogins(await login(spelling, WRONG, "203.0.113.1"));
    expectTooManyLogins(await login(spellings[7], PASSWORD, "203.0.113.1"));
  });

  it("one address checks at most the per-client budget of passwords, however many spellings it uses", async () => {
    await newAccount("valentina");
    const answers = [];
    for (const spelling of variants("valentina").slice(0, 45)) answers.push((await login(spelling, WRONG, "203.0.113.2")).status);
    expect(answers.filter((s) => s === 401)).toHaveLength(PER_USER_ADDRESS);
    expect(answers.filter((s) => s === 429)).toHaveLength(45 - PER_USER_ADDRESS);
  });

  it("the spellings of a name no account has share one bucket, confusables included", async () => {
    const spellings = ["ghostly", "ｇhostly", "gһostly" /* Cyrillic shha */, "ghоstly" /* Cyrillic o */, "GHOSTLY", "ghostlｙ"];
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push((await login(spellings[i % spellings.length], WRONG, "203.0.113.3")).status);
    expect(answers).toEqual([...Array<number>(PER_USER_ADDRESS).fill(401), 429, 429]);
  });
});

describe("failures from other addresses never lock the owner out (attack 2)", () => {
  it("31 wrong logins from one address leave the owner's right password from another heard", async () => {
    await newAccount("vera");
    const answers = [];
    for (let i = 0; i < 31; i++) answers.push((await login("vera", WRONG, "127.0.0.2")).status);
    expect(answers.filter((s) => s === 401)).toHaveLength(PER_USER_ADDRESS);
    const owner = await login("vera", PASSWORD, "127.0.0.3");
    expect(owner.status, owner.text).toBe(200);
  });

  it("once the account's budget is spent, a device that logged in before is heard while new clients wait", async () => {
    const id = await newAccount("vivian");
    await newAccount("other_vivian");
    const first = await login("vivian", PASSWORD, "127.0.0.3");
    expect(first.status, first.text).toBe(200);
    const deviceToken = (first.body as { device_token: string }).device_token;
    expect(deviceToken).toMatch(new RegExp(`^d1\\.${id}\\.`));
    const cookie = first.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^device=[^;]+; Path=\/token; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const otherToken = ((await login("other_vivian", PASSWORD, "127.0.0.3")).body as { device_token: string }).device_token;

    // Wrong passwords from three more addresses spend what is left of the account's budget.
    let address = 10;
    for (let spent = 1; spent < PER_ACCOUNT; address++) {
      for (let i = 0; i < PER_USER_ADDRESS && spent < PER_ACCOUNT; i++, spent++) {
        expect((await login("vivian", WRONG, `127.0.0.${address}`)).status).toBe(401);
      }
    }
    expectTooManyLogins(await login("vivian", PASSWORD, "127.0.0.50"));
    // The same client, without its token, is a new client.
    expectTooManyLogins(await login("vivian", PASSWORD, "127.0.0.3"));
    // A token of another account, or one altered, proves nothing.
    expectTooManyLogins(await login("vivian", PASSWORD, "127.0.0.3", { deviceToken: otherToken }));
    expectTooManyLogins(await login("vivian", PASSWORD, "127.0.0.3", { deviceToken: `${deviceToken.slice(0, -2)}xx` }));

    const byField = await login("vivian", PASSWORD, "127.0.0.3", { deviceToken });
    expect(byField.status, byField.text).toBe(200);
    const byCookie = await login("ｖivian", PASSWORD, "127.0.0.4", { cookie: cookie.split(";")[0] });
    expect(byCookie.status, byCookie.text).toBe(200);
    // Renewed, for the same device.
    expect((byCookie.body as { device_token: string }).device_token.split(".")[3]).toBe(deviceToken.split(".")[3]);
  });

  it("a known device has a budget of its own: its failures stop it, not the others", async () => {
    await newAccount("vesna");
    const first = await login("vesna", PASSWORD, "127.0.0.3");
    const deviceToken = (first.body as { device_token: string }).device_token;
    for (let i = 0; i < PER_USER_ADDRESS; i++) expect((await login("vesna", WRONG, "127.0.0.60", { deviceToken })).status).toBe(401);
    expectTooManyLogins(await login("vesna", PASSWORD, "127.0.0.60", { deviceToken }));
    const second = await login("vesna", PASSWORD, "127.0.0.61");
    expect(second.status, second.text).toBe(200);
  });
});
