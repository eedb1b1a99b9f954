import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesUnreadCount } from "../../functions/messages-unread-count";
import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { usersList } from "../../functions/users-list";
import { getPool } from "../../shared/data/db";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { signToken } from "../support/tokens";
import { newUser } from "../support/users";

const SECRET = process.env.SECRET_KEY as string;
let db: TestDatabase;

beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

describe("POST /users/", () => {
  it("registers a user and answers id and username only", async () => {
    const res = await call(usersCreate, { method: "POST", json: { username: "  Alice_reg  ", password: "correct horse battery" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: expect.any(Number), username: "Alice_reg" });
    const { rows } = await getPool().query("SELECT hashed_password FROM users WHERE username = 'Alice_reg'");
    expect(rows[0].hashed_password).toMatch(/^\$2[aby]\$04\$/);
  });

  it("refuses a username that differs only in case", async () => {
    await call(usersCreate, { method: "POST", json: { username: "CaseUser", password: "correct horse battery" } });
    const res = await call(usersCreate, { method: "POST", json: { username: "caseuser", password: "correct horse battery" } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: "Username already registered" });
  });

  it.each([
    [{ username: "", password: "correct horse battery" }, "username", "string_too_short"],
    [{ username: "   ", password: "correct horse battery" }, "username", "string_too_short"],
    [{ username: "x".repeat(51), password: "correct horse battery" }, "username", "string_too_long"],
    [{ username: "bad\u0007name", password: "correct horse battery" }, "username", "value_error"],
    [{ username: "shortpw", password: "1234567" }, "password", "string_too_short"],
    [{ username: "longpw", password: "p".repeat(129) }, "password", "string_too_long"],
    [{ password: "correct horse battery" }, "username", "missing"],
    [{ username: 5, password: "correct horse battery" }, "username", "string_type"],
  ])("answers 422 with loc for %j", async (json, field, type) => {
    const res = await call(usersCreate, { method: "POST", json });
    expect(res.status).toBe(422);
    const detail = (res.body as { detail: { loc: unknown[]; type: string; msg: string }[] }).detail;
    expect(detail).toContainEqual(expect.objectContaining({ loc: ["body", field], type }));
    expect(detail.every((d) => typeof d.msg === "string" && d.msg.length > 0)).toBe(true);
  });

  it("never echoes a password back in a 422", async () => {
    const res = await call(usersCreate, { method: "POST", json: { username: "echo", password: "Qz9!kx" } });
    expect(res.status).toBe(422);
    expect(res.text).toContain("password");
    expect(res.text).not.toContain("Qz9!kx");
  });

  it("answers 422 for malformed JSON and a non-object body", async () => {
    const bad = await call(usersCreate, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(bad.status).toBe(422);
    expect((bad.body as { detail: { type: string; loc: unknown[] }[] }).detail[0]).toMatchObject({
      type: "json_invalid",
      loc: ["body", 0],
    });
    const array = await call(usersCreate, { method: "POST", json: [1, 2] });
    expect(array.status).toBe(422);
    expect((array.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(["body"]);
  });

  it("answers 415 for a body that is not JSON", async () => {
    const res = await call(usersCreate, { method: "POST", headers: { "content-type": "text/plain" }, body: "username=a" });
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ detail: expect.stringContaining("application/json") });
  });

  it("answers 413 for a body over the size limit without storing anything", async () => {
    const before = await getPool().query("SELECT count(*)::int AS n FROM users");
    const huge = JSON.stringify({ username: "huge", password: "x".repeat(2 * 1024 * 1024) });
    const res = await call(usersCreate, { method: "POST", headers: { "content-type": "application/json" }, body: huge });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ detail: "Request body is too large" });
    const after = await getPool().query("SELECT count(*)::int AS n FROM users");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});

describe("POST /token", () => {
  it("logs in with a form and issues an HS256 JWT with sub, uid, exp and iat", async () => {
    const user = await newUser("login");
    const res = await call(tokenCreate, form({ username: user.username, password: user.password, grant_type: "password" }));
    expect(res.status).toBe(200);
    const body = res.body as { access_token: string; token_type: string };
    expect(body.token_type).toBe("bearer");
    const header = JSON.parse(Buffer.from(body.access_token.split(".")[0], "base64url").toString());
    expect(header.alg).toBe("HS256");
    const claims = jwt.verify(body.access_token, SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload;
    expect(claims.sub).toBe(user.username);
    expect(claims.uid).toBe(user.id);
    expect(claims.exp! - claims.iat!).toBe(30 * 60);
  });

  it("accepts multipart form data", async () => {
    const user = await newUser("multipart");
    const data = new FormData();
    data.set("username", user.username);
    data.set("password", user.password);
    const encoded = new Response(data);
    const res = await call(tokenCreate, {
      method: "POST",
      headers: { "content-type": encoded.headers.get("content-type") as string },
      body: Buffer.from(await encoded.arrayBuffer()),
    });
    expect(res.status).toBe(200);
  });

  it("logs in regardless of the username's case", async () => {
    const user = await newUser("MixedCase");
    const res = await call(tokenCreate, form({ username: user.username.toLowerCase(), password: user.password }));
    expect(res.status).toBe(200);
  });

  it("gives the same 401 for an unknown user and a wrong password", async () => {
    const user = await newUser("wrongpw");
    const wrong = await call(tokenCreate, form({ username: user.username, password: "not the password" }));
    const unknown = await call(tokenCreate, form({ username: "nobody_at_all", password: "whatever123" }));
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: "Incorrect username or password" });
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
    }
  });

  it("refuses a grant_type other than password with 422", async () => {
    const res = await call(tokenCreate, form({ username: "a", password: "b", grant_type: "client_credentials" }));
    expect(res.status).toBe(422);
    expect((res.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(["body", "grant_type"]);
  });

  it("answers 422 naming each missing field", async () => {
    const res = await call(tokenCreate, form({}));
    expect(res.status).toBe(422);
    const locs = (res.body as { detail: { loc: unknown[]; type: string }[] }).detail.map((d) => [d.loc, d.type]);
    expect(locs).toEqual([
      [["body", "username"], "missing"],
      [["body", "password"], "missing"],
    ]);
  });

  it("answers 415 for a JSON login", async () => {
    const res = await call(tokenCreate, { method: "POST", json: { username: "a", password: "b" } });
    expect(res.status).toBe(415);
  });

  it("verifies bcrypt hashes written by the original service ($2b$ and $2a$)", async () => {
    // Hashes of "legacy-password" as passlib (Python bcrypt) wrote them.
    const bcrypt = await import("bcryptjs");
    const twoB = (await bcrypt.hash("legacy-password", 4)).replace(/^\$2a\$/, "$2b$");
    const twoA = await bcrypt.hash("legacy-password", 4);
    await getPool().query("INSERT INTO users (username, hashed_password) VALUES ('legacy_b', $1), ('legacy_a', $2)", [twoB, twoA]);
    for (const username of ["legacy_b", "legacy_a"]) {
      const res = await call(tokenCreate, form({ username, password: "legacy-password" }));
      expect(res.status).toBe(200);
    }
  });
});

describe("bearer tokens", () => {
  const probe = (headers: Record<string, string>) => call(messagesUnreadCount, { headers });

  it("401 Not authenticated without a token, with WWW-Authenticate", async () => {
    for (const headers of [{}, { authorization: "Basic abc" }] as Record<string, string>[]) {
      const res = await probe(headers);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: "Not authenticated" });
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
    }
  });

  it("401 Could not validate credentials for bad tokens", async () => {
    const user = await newUser("tokens");
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: user.username, uid: user.id, iat: now };
    const [h, p] = user.token.split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, uid: user.id + 1000, exp: now + 600 })).toString("base64url")}.${user.token.split(".")[2]}`;
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${p}.`;
    const bad = [
      "garbage",
      signToken({ ...claims, exp: now - 10 }), // expired
      tampered,
      none,
      jwt.sign({ ...claims, exp: now + 600 }, SECRET, { algorithm: "HS512" }), // wrong algorithm
      jwt.sign({ ...claims, exp: now + 600 }, "another-secret-of-sufficient-length-123456", { algorithm: "HS256" }),
      signToken({ ...claims, exp: now + 600, sub: "someone_else" }), // sub and uid disagree
    ];
    for (const token of bad) {
      const res = await probe({ authorization: `Bearer ${token}` });
      expect(res.status, token).toBe(401);
      expect(res.body).toEqual({ detail: "Could not validate credentials" });
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
    }
    expect((await probe({ authorization: `Bearer ${user.token}` })).status).toBe(200);
  });

  it("accepts a token of the original service (sub only)", async () => {
    const user = await newUser("original");
    const token = signToken({ sub: user.username, exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await probe({ authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("refuses the token of a user who was deleted", async () => {
    const user = await newUser("deleted");
    await getPool().query("DELETE FROM users WHERE id = $1", [user.id]);
    const res = await probe({ authorization: `Bearer ${user.token}` });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Could not validate credentials" });
  });

  it("refuses a deleted user's token on the very next request (nothing cached)", async () => {
    const user = await newUser("deletedinuse");
    const auth = { authorization: `Bearer ${user.token}` };
    expect((await probe(auth)).status).toBe(200);
    await getPool().query("DELETE FROM users WHERE id = $1", [user.id]);
    const res = await probe(auth);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Could not validate credentials" });
  });
});

describe("GET /users/", () => {
  it("lists other users by username, with prefix search and paging", async () => {
    const me = await newUser("lister");
    for (const name of ["zed_list", "Amy_list", "bob_list", "amber_list"]) {
      await call(usersCreate, { method: "POST", json: { username: name, password: "correct horse battery" } });
    }
    const all = await call(usersList, { token: me.token });
    expect(all.status).toBe(200);
    const names = (all.body as { id: number; username: string }[]).map((u) => u.username);
    expect(names).not.toContain(me.username);
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    const found = await call(usersList, { token: me.token, query: { q: "AM" } });
    expect((found.body as { username: string }[]).map((u) => u.username)).toEqual(["amber_list", "Amy_list"]);
    const page = await call(usersList, { token: me.token, query: { q: "am", skip: "1", limit: "1" } });
    expect((page.body as { username: string }[]).map((u) => u.username)).toEqual(["Amy_list"]);
    const wildcard = await call(usersList, { token: me.token, query: { q: "%" } });
    expect(wildcard.body).toEqual([]);
  });

  it("answers 422 for bad paging and 401 without a token", async () => {
    const me = await newUser("pager");
    for (const query of [{ limit: "0" }, { limit: "1001" }, { skip: "-1" }, { limit: "ten" }] as Record<string, string>[]) {
      const res = await call(usersList, { token: me.token, query });
      expect(res.status, JSON.stringify(query)).toBe(422);
      expect((res.body as { detail: { loc: unknown[] }[] }).detail[0].loc[0]).toBe("query");
    }
    expect((await call(usersList, {})).status).toBe(401);
  });
});
