/**
 * Access tokens verified once are kept (shared/auth/tokens.ts): a kept token must still answer
 * exactly as verifying it again would, through its expiry and a change of the signing key.
 */
import { afterEach, describe, expect, it, vi } from "vitest";

import { accessTokenSeconds, issueAccessToken, verifyAccessToken } from "../../shared/auth/tokens";
import { resetConfig } from "../../shared/config/config";

const SESSION = "4f7c1d2e-9a8b-4c3d-8e1f-0a1b2c3d4e5f";
const user = { id: 7, username: "alice" };

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  resetConfig();
});

describe("access tokens kept after their first verification", () => {
  it("answers a second verification with the same claims", () => {
    const token = issueAccessToken(user, Date.now(), SESSION);
    const first = verifyAccessToken(token);
    expect(first).toMatchObject({ sub: "alice", uid: 7, sid: SESSION });
    expect(verifyAccessToken(token)).toEqual(first);
  });

  it("refuses a kept token from the second its expiry names, as an unkept one is refused", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const issued = Date.UTC(2026, 0, 1, 12, 0, 0);
    vi.setSystemTime(issued);
    const token = issueAccessToken(user, issued, SESSION);
    expect(verifyAccessToken(token)).not.toBeNull();
    vi.setSystemTime(issued + accessTokenSeconds() * 1000 - 1);
    expect(verifyAccessToken(token)).not.toBeNull();
    vi.setSystemTime(issued + accessTokenSeconds() * 1000);
    expect(verifyAccessToken(token)).toBeNull();
  });

  it("refuses tokens kept under a signing key once the key has changed", () => {
    const token = issueAccessToken(user, Date.now(), SESSION);
    expect(verifyAccessToken(token)).not.toBeNull();
    vi.stubEnv("SECRET_KEY", `${process.env.SECRET_KEY}-rotated-for-this-test`);
    resetConfig();
    expect(verifyAccessToken(token)).toBeNull();
    // A token of the new key is verified and kept as before.
    expect(verifyAccessToken(issueAccessToken(user, Date.now(), SESSION))).toMatchObject({ uid: 7 });
  });

  it("keeps claims no caller can change for the next request", () => {
    const token = issueAccessToken(user, Date.now(), SESSION);
    const claims = verifyAccessToken(token)!;
    expect(() => Object.assign(claims, { uid: 8 })).toThrow(TypeError);
    expect(verifyAccessToken(token)?.uid).toBe(7);
  });

  it("never keeps a token whose signature fails: the genuine one kept does not vouch for an altered copy", () => {
    const token = issueAccessToken(user, Date.now(), SESSION);
    expect(verifyAccessToken(token)).not.toBeNull();
    const [header, payload, signature] = token.split(".");
    const altered = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    expect(verifyAccessToken(altered)).toBeNull();
    expect(verifyAccessToken(altered)).toBeNull();
  });
});
