/**
 * Lookalike usernames (issue 16): NFKC first, no invisible or reordering characters, unique by
 * case and by UTS #39 confusable skeleton; names stored before these rules keep working.
 */
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { getPool } from "../../shared/data/db";
import { USER_SQL } from "../../shared/data/users";
import { confusableSkeleton, normalizeUsername, usernameKeys, usernameProblem, usernamesCollide } from "../../shared/domain/usernames";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const PASSWORD = "a long enough passphrase";
const register = (username: string, password = PASSWORD) => call(usersCreate, { method: "POST", json: { username, password } });
const login = (username: string, password: string) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }).toString(),
  });

describe("shared/domain/usernames.ts", () => {
  it("normalises with NFKC before trimming", () => {
    expect(normalizeUsername("ａｌｉｃｅ")).toBe("alice");
    expect(normalizeUsername("\u3000bob\u00a0")).toBe("bob");
    expect(normalizeUsername("ﬁsh")).toBe("fish");
  });

  it("refuses controls, format and bidirectional characters and invisible fillers, and allows right-to-left letters", () => {
    for (const name of [
      "alice\u200b",
      "\u202ealice",
      "al\u2066ice",
      "a\u200dlice",
      "\u200falice",
      "alice\u00ad",
      "\u3164alice",
      "a\u0007b",
      "al\ufeffice",
      "a\u2028b",
      "a\ue000b",
    ]) {
      expect(usernameProblem(normalizeUsername(name)), JSON.stringify(name)).not.toBeNull();
    }
    for (const name of ["alice", "José", "שלום", "مرحبا", "Ωμέγα", "名前", "o'brien-smith"]) expect(usernameProblem(name), name).toBeNull();
  });

  it("computes the UTS #39 skeleton from Unicode's confusables data", () => {
    expect(confusableSkeleton("\u0430lice")).toBe("alice"); // Cyrillic а
    expect(confusableSkeleton("paypa1")).toBe(confusableSkeleton("paypal"));
    expect(confusableSkeleton("m")).toBe("rn");
  });

  it("makes names collide by case, by skeleton with case kept, and by skeleton with case folded", () => {
    expect(usernamesCollide("alice", "ALICE")).toBe(true);
    expect(usernamesCollide("alice", "\u0430lice")).toBe(true);
    expect(usernamesCollide("alice", "\u0410LICE")).toBe(true); // Cyrillic А, capitals
    expect(usernamesCollide("Ilse", "llse")).toBe(true); // capital I is drawn as l
    expect(usernamesCollide("alice", "ａlice")).toBe(true);
    expect(usernamesCollide("alice", "alicia")).toBe(false);
    expect(usernamesCollide("bob", "b0b")).toBe(true);
    expect(usernameKeys("alice")).toEqual(["alice"]);
  });
});

describe("POST /users/ next to alice", () => {
  beforeAll(async () => {
    expect((await register("alice")).status).toBe(200);
  });

  it.each([
    ["Cyrillic а", "\u0430lice"],
    ["fullwidth ａ", "ａlice"],
    ["all fullwidth", "ａｌｉｃｅ"],
    ["capitals", "ALICE"],
    ["Cyrillic capitals", "\u0410LICE"],
    ["capital I for l", "aIice"],
    ["Greek ο for o in a lookalike", "\u0430l\u0456ce"],
  ])("refuses %s with 400 Username already registered", async (_name, username) => {
    const res = await register(username);
    expect(res.status, JSON.stringify(username)).toBe(400);
    expect(res.body).toEqual({ detail: "Username already registered" });
  });

  it.each([
    ["a zero-width space", "alice\u200b"],
    ["a right-to-left override", "\u202ealice"],
    ["a left-to-right isolate", "\u2066alice\u2069"],
    ["a zero-width joiner", "al\u200dice"],
    ["a Hangul filler", "alice\u3164"],
  ])("refuses %s with 422 naming the username", async (_name, username) => {
    const res = await register(username);
    expect(res.status).toBe(422);
    expect((res.body as { detail: { loc: string[]; msg: string }[] }).detail).toEqual([
      expect.objectContaining({
        loc: ["body", "username"],
        msg: expect.stringContaining("Username must not contain control, invisible or bidirectional formatting characters"),
      }),
    ]);
  });

  it("stores the NFKC form, and allows right-to-left names", async () => {
    const res = await register("ｂｏｂ");
    expect(res.status).toBe(200);
    expect((res.body as { username: string }).username).toBe("bob");
    expect((await register("שלום")).status).toBe(200);
    expect((await login("bob", PASSWORD)).status).toBe(200);
    // Typed as registered, the name still logs in.
    expect((await login("ｂｏｂ", PASSWORD)).status).toBe(200);
  });

  it("lets only one of two lookalike names registered at the same moment through (20 races)", async () => {
    for (let i = 0; i < 20; i++) {
      const plain = `race${i}x`;
      const lookalike = `r\u0430ce${i}x`;
      const answers = await Promise.all([register(plain), register(lookalike)]);
      expect(answers.map((a) => a.status).sort(), plain).toEqual([200, 400]);
      const { rows } = await getPool().query("SELECT count(*)::int AS n FROM users WHERE username IN ($1, $2)", [plain, lookalike]);
      expect(rows[0].n).toBe(1);
    }
  });
});

describe("names stored before the rules", () => {
  it("keep logging in, even when they collide among themselves, and no new name may collide with them", async () => {
    const hash = await bcrypt.hash("legacy-password", 4);
    // Written without collision keys, as by the original service or an import: the next registration keys them.
    await getPool().query(
      "INSERT INTO users (username, hashed_password) VALUES ('mallory', $1), ('m\u0430llory', $1), ('ｄａｖｅ', $1), ('eve\u200b', $1)",
      [hash],
    );
    for (const username of ["mallory", "m\u0430llory", "ｄａｖｅ", "eve\u200b"]) {
      expect((await login(username, "legacy-password")).status, username).toBe(200);
    }
    for (const username of ["mallory", "MALLORY", "rnallory", "dave", "ＤＡＶＥ"]) {
      const res = await register(username);
      expect(res.status, username).toBe(400);
    }
    // The stored name with a zero-width space keeps working; a new one without it is a different name.
    expect((await register("eve")).status).toBe(200);
    const { rows } = await getPool().query("SELECT count(*)::int AS n FROM users WHERE username_skeleton IS NULL");
    expect(rows[0].n).toBe(0);
  });

  it("the collision check uses the skeleton and case indexes", async () => {
    const pool = getPool();
    await pool.query(
      "INSERT INTO users (username, hashed_password, username_skeleton, username_skeleton_folded) SELECT 'bulk' || i, 'x', 'bulk' || i, 'bulk' || i FROM generate_series(1, 20000) i",
    );
    await pool.query("ANALYZE users");
    const plan = (await pool.query(`EXPLAIN ${USER_SQL.taken}`, ["newname", ["newname"]])).rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(plan).toMatch(/users_username_skeleton_idx/);
    expect(plan).toMatch(/users_username_skeleton_folded_idx/);
    expect(plan).toMatch(/users_username_(lower_key|prefix_idx)/);
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
