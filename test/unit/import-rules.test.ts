/** The import's text rules (tools/import/rules.ts) at their edges: lengths count code points, as our validation does. */
import { describe, expect, it } from "vitest";

import { BODY_MAX, TITLE_MAX, USERNAME_MAX } from "../../shared/domain/schemas";
import { cleanBody, cleanTimestamp, cleanTitle, cleanUsername, isBcryptHash, renamed } from "../../tools/import/rules";

describe("the import's rules", () => {
  it("keeps text our rules accept as it is, astral characters counting as one", () => {
    const emoji = "😀".repeat(BODY_MAX);
    expect(cleanBody(emoji)).toEqual({ value: emoji, actions: [] });
    expect(cleanBody("   ")).toEqual({ value: "   ", actions: [] });
    expect(cleanTitle("😀".repeat(TITLE_MAX))).toEqual({ value: "😀".repeat(TITLE_MAX), actions: [] });
    expect(cleanUsername("ünïcödé name", 1)).toEqual({ value: "ünïcödé name", actions: [] });
    expect(cleanUsername("\u202eana\u200b", 1)).toEqual({ value: "ana", actions: ["username_forbidden_characters_removed"] });
  });

  it("cuts at the limit and says so in the text", () => {
    const body = cleanBody("😀".repeat(BODY_MAX + 1));
    expect([...body.value]).toHaveLength(BODY_MAX);
    expect(body.value).toMatch(/\[cut on import: the original message had 100001 characters\]$/);
    expect([...cleanTitle("😀".repeat(TITLE_MAX + 1)).value]).toHaveLength(TITLE_MAX);
    expect(cleanUsername("y".repeat(USERNAME_MAX + 1), 1)).toEqual({ value: "y".repeat(USERNAME_MAX), actions: ["username_shortened"] });
  });

  it("keeps a renamed name within the length limit", () => {
    expect(renamed("y".repeat(USERNAME_MAX), 12)).toBe(`${"y".repeat(USERNAME_MAX - 3)}~12`);
    expect(renamed("ana", 2)).toBe("ana~2");
  });

  it("recognises the bcrypt hashes the original and bcryptjs write, nothing else", () => {
    const hash = "$2b$12$abcdefghijklmnopqrstuu2Ivs0yuZyvPrjAZ9RQDTdTqMj3YCSZ6";
    expect(isBcryptHash(hash)).toBe(true);
    expect(isBcryptHash(hash.replace("$2b$", "$2a$"))).toBe(true);
    expect(isBcryptHash(hash.slice(0, -1))).toBe(false);
    expect(isBcryptHash("pbkdf2_sha256$...")).toBe(false);
  });

  it("takes the naive timestamps SQL Server and PostgreSQL write, and nothing that is not one", () => {
    for (const ts of ["2024-04-27T12:34:56.1234567", "2024-04-27 12:34:56", "2024-04-27T12:34"])
      expect(cleanTimestamp(ts, "x").value).toBe(ts);
    for (const ts of [null, "", "yesterday", "2024-04-27T12:34:56Z"])
      expect(cleanTimestamp(ts, "fallback")).toEqual({ value: "fallback", actions: ["timestamp_missing"] });
  });
});
