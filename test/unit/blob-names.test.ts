/**
 * Blob names (shared/data/attachments.ts) come from a pool of random bytes: each name must still
 * carry 192 bits of its own, across the pool's refills, never a slice another name was given.
 */
import { describe, expect, it } from "vitest";

import { newBlobName } from "../../shared/data/attachments";

describe("newBlobName", () => {
  it("gives URL-safe names of 192 bits, none repeated or overlapping across several refills of its pool", () => {
    const names = Array.from({ length: 1_000 }, newBlobName);
    for (const name of names) {
      expect(name).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(Buffer.from(name, "base64url")).toHaveLength(24);
    }
    expect(new Set(names).size).toBe(names.length);
    // Consecutive names share no bytes: a name cut from a slice another was given would.
    const halves = new Set(names.flatMap((name) => [name.slice(0, 16), name.slice(16)]));
    expect(halves.size).toBe(names.length * 2);
  });
});
