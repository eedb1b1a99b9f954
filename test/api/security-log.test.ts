/**
 * Security events (ASVS 7.2): one structured line each, read from the invocation's log, with the
 * event, its outcome, the user id and the client address, and never a password, a token, the
 * name as typed or message text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesInbox } from "../../functions/messages-inbox";
import { messagesSend } from "../../functions/messages-send";
import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { webpubsubEvents } from "../../functions/webpubsub-events";
import type { SecurityLine } from "../../shared/auth/security-log";
import { resetConfig } from "../../shared/config/config";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { newUser } from "../support/users";

const PASSWORD = "correct horse battery";
const WRONG = "Sup3r-secret guess!";
let db: TestDatabase;

beforeAll(async () => {
  process.env.LOGIN_FAILURES_PER_USER_ADDRESS = "2";
  process.env.REGISTRATIONS_PER_ADDRESS = "1";
  process.env.SEND_LIMIT_BURST = "1";
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const from = (address: string) => ({ "x-forwarded-for": `${address}:40000` });

/** The security lines of an answer's log, parsed; every other line of it is checked to be no such line. */
function securityLines(res: CallResult): SecurityLine[] {
  const lines = res.logs.filter((l) => l.includes('"security_event"'));
  return lines.map((l) => JSON.parse(l.slice(l.indexOf("{"))) as SecurityLine);
}

function expectClean(res: CallResult, ...secrets: string[]): void {
  for (const line of res.logs) for (const secret of secrets) expect(line).not.toContain(secret);
}

const login = (username: string, password: string, address: string) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...from(address) },
    body: new URLSearchParams({ username, password }).toString(),
  });

describe("security events", () => {
  it("log each login: failure, throttling and success, with the account's id and the address", async () => {
    const user = await newUser("logged");
    const failed = await login(user.username, WRONG, "198.51.100.7");
    expect(failed.status).toBe(401);
    expect(securityLines(failed)).toEqual([
      { security_event: "login_failed", outcome: "failure", user_id: user.id, client_address: "198.51.100.7", reason: "wrong_password" },
    ]);
    expect(failed.logs.find((l) => l.includes("security_event"))).toMatch(/^warning: /);
    expectClean(failed, WRONG, user.username);

    const unknown = await login("nobody_at_all", WRONG, "198.51.100.7");
    expect(securityLines(unknown)).toEqual([
      { security_event: "login_failed", outcome: "failure", user_id: null, client_address: "198.51.100.7", reason: "unknown_username" },
    ]);
    expectClean(unknown, WRONG, "nobody_at_all");

    await login(user.username, WRONG, "198.51.100.7");
    const throttled = await login(user.username, PASSWORD, "198.51.100.7");
    expect(throttled.status).toBe(429);
    const [line] = securityLines(throttled);
    expect(line).toMatchObject({ security_event: "login_throttled", outcome: "refused", user_id: user.id, client_address: "198.51.100.7" });
    expect(line.retry_after).toBe(Number(throttled.headers.get("retry-after")));
    expectClean(throttled, PASSWORD, user.username);

    const succeeded = await login(user.username, PASSWORD, "198.51.100.8");
    expect(succeeded.status).toBe(200);
    const { access_token, refresh_token, device_token } = succeeded.body as {
      access_token: string;
      refresh_token: string;
      device_token: string;
    };
    const sid = (JSON.parse(Buffer.from(access_token.split(".")[1], "base64url").toString()) as { sid: string }).sid;
    expect(securityLines(succeeded)).toEqual([
      {
        security_event: "login_succeeded",
        outcome: "success",
        user_id: user.id,
        session_id: sid,
        client_address: "198.51.100.8",
        reason: "password",
      },
    ]);
    expectClean(succeeded, PASSWORD, access_token, refresh_token, device_token);
  });

  it("log a bearer token refused, without the token", async () => {
    const user = await newUser("tokens");
    const forged = `${user.token.slice(0, -4)}AAAA`;
    const res = await call(messagesInbox, { token: forged, headers: from("198.51.100.9") });
    expect(res.status).toBe(401);
    expect(securityLines(res)).toEqual([
      { security_event: "token_rejected", outcome: "refused", user_id: null, client_address: "198.51.100.9", reason: "invalid_token" },
    ]);
    expectClean(res, forged.slice(-20));
  });

  it("log a registration and a send refused by their limits", async () => {
    const first = await call(usersCreate, {
      method: "POST",
      headers: from("198.51.100.10"),
      json: { username: "reg_one", password: PASSWORD },
    });
    expect(first.status).toBe(200);
    const second = await call(usersCreate, {
      method: "POST",
      headers: from("198.51.100.10"),
      json: { username: "reg_two", password: PASSWORD },
    });
    expect(second.status).toBe(429);
    expect(securityLines(second)).toMatchObject([
      { security_event: "registration_throttled", outcome: "refused", user_id: null, client_address: "198.51.100.10" },
    ]);
    expectClean(second, PASSWORD, "reg_two");

    const [sender, recipient] = [await newUser("sender"), await newUser("recipient")];
    const send = () =>
      call(messagesSend, {
        method: "POST",
        token: sender.token,
        headers: from("198.51.100.11"),
        json: { recipient_id: recipient.id, title: "Private title", body: "Private body" },
      });
    expect((await send()).status).toBe(200);
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(securityLines(refused)).toMatchObject([
      {
        security_event: "request_throttled",
        outcome: "refused",
        user_id: sender.id,
        client_address: "198.51.100.11",
        reason: "messages-send",
      },
    ]);
    expectClean(refused, "Private title", "Private body", sender.token);
  });

  it("log a caller of the event handler that is not Web PubSub", async () => {
    const res = await call(webpubsubEvents, {
      method: "POST",
      headers: { ...from("198.51.100.12"), "ce-type": "azure.webpubsub.sys.connected", "ce-connectionid": "abc" },
      query: { key: "not-the-key" },
    });
    expect(res.status).toBe(401);
    expect(securityLines(res)).toEqual([
      { security_event: "event_caller_refused", outcome: "refused", user_id: null, client_address: "198.51.100.12" },
    ]);
    expectClean(res, "not-the-key");
  });
});
