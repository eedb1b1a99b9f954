/**
 * New passwords (issue 16): at most 72 UTF-8 bytes, since bcrypt ignores the rest, and not a common
 * password; existing hashes, and passwords longer than that set before, still log in.
 */
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { isCommonPassword } from "../../shared/auth/common-passwords";
import { getPool } from "../../shared/data/db";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

let counter = 0;
const register = (password: string, username = `pw_user_${++counter}`) =>
  call(usersCreate, { method: "POST", json: { username, password } });
const login = (username: string, password: string) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }).toString(),
  });
const usersNamed = async (username: string) =>
  (await getPool().query("SELECT count(*)::int AS n FROM users WHERE username = $1", [username])).rows[0].n as number;

type Issues = { detail: { loc: string[]; msg: string; type: string }[] };

describe("a common password", () => {
  it.each(["12345678", "password1", "Password1", "qwerty123", "iloveyou", "trustno1"])(
    "%s is a 422 naming the password, and nothing is stored",
    async (password) => {
      const username = `common_${++counter}`;
      const res = await register(password, username);
      expect(res.status).toBe(422);
      expect((res.body as Issues).detail).toEqual([
        { loc: ["body", "password"], type: "value_error", msg: expect.stringContaining("too common") },
      ]);
      expect(await usersNamed(username)).toBe(0);
    },
  );

  it("is looked up in the list, not guessed: uncommon passphrases pass", async () => {
    expect(await isCommonPassword("correct horse battery")).toBe(false);
    expect(await isCommonPassword("PASSWORD")).toBe(true);
    expect((await register("a long enough passphrase")).status).toBe(200);
  });
});

describe("a password past 72 bytes", () => {
  it("is a 422 naming the password, in ASCII and in multi-byte characters", async () => {
    for (const password of ["x".repeat(73), "€".repeat(25), `${"a".repeat(70)}é€`]) {
      const username = `long_${++counter}`;
      const res = await register(password, username);
      expect(res.status, `${password.length} characters`).toBe(422);
      expect((res.body as Issues).detail).toEqual([expect.objectContaining({ loc: ["body", "password"], type: "string_too_long" })]);
      expect(await usersNamed(username)).toBe(0);
    }
  });

  it("so two passwords sharing their first 72 bytes can no longer be set; exactly 72 bytes is accepted", async () => {
    const prefix = "Vx9#qL2!mR7$tZ4&".repeat(5).slice(0, 72);
    expect((await register(`${prefix}first`)).status).toBe(422);
    const username = `edge_${++counter}`;
    expect((await register(prefix, username)).status).toBe(200);
    expect((await register("€".repeat(24))).status).toBe(200);
    expect((await login(username, prefix)).status).toBe(200);
  });
});

describe("existing accounts", () => {
  it("log in with $2a$ and $2b$ hashes, also of passwords longer than the new limit", async () => {
    const long = "an old passphrase set before the limit, longer than seventy-two bytes in all";
    const twoA = await bcrypt.hash(long, 4);
    const twoB = twoA.replace(/^\$2a\$/, "$2b$");
    await getPool().query("INSERT INTO users (username, hashed_password) VALUES ('old_2a', $1), ('old_2b', $2)", [twoA, twoB]);
    for (const username of ["old_2a", "old_2b"]) expect((await login(username, long)).status, username).toBe(200);
    expect((await login("old_2a", "12345678")).status).toBe(401);
  });
});
