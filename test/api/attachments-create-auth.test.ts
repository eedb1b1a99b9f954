/**
 * The upload slot (POST /attachments) is written in the statement that authenticates the request:
 * every token authentication refuses gets the same 401 and writes nothing, and neither does a
 * refusal by the pending-upload limits (429) nor a URL storage could not sign (503). "Nothing" is
 * the whole of what a slot writes: no attachment row, no place in any user's counter, no blob
 * queued for deletion. Signing with the account key needs no storage service, so no azurite here
 * (the URL's use: attachments.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import { attachmentsCreate } from "../../functions/attachments-create";
import { resetConfig } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { getBlobStore } from "../../shared/storage/blob-store";
import { StorageUnavailableError } from "../../shared/storage/errors";
import { useKeySignedStorage } from "../support/attachments";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { expectTokenRefused, sessionIdOf, signToken } from "../support/tokens";
import { newUser, type TestUser } from "../support/users";

const ABSENT = "00000000-0000-4000-8000-000000000000";
const LIMITS = { ATTACHMENT_MAX_BYTES: "1000", ATTACHMENT_PENDING_MAX: "2", ATTACHMENT_PENDING_MAX_BYTES: "1500" };

let db: TestDatabase;
let restoreStorage: () => void;
const previous = Object.fromEntries(Object.keys(LIMITS).map((name) => [name, process.env[name]]));

beforeAll(async () => {
  restoreStorage = useKeySignedStorage();
  Object.assign(process.env, LIMITS);
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  for (const [name, value] of Object.entries(previous)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfig();
  restoreStorage();
  await db.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const file = (size = 1) => ({ filename: "notes.txt", content_type: "text/plain", size });
const requestSlot = (token: string | undefined, json: unknown = file()): Promise<CallResult> =>
  call(attachmentsCreate, { method: "POST", token, json });

const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600;

/** Everything a slot writes, for every user: the rows, the counters' places and bytes, the queued blob deletions. */
async function written(): Promise<Record<string, number>> {
  const { rows } = await getPool().query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM attachments) AS rows,
            (SELECT coalesce(sum(count), 0)::int FROM attachment_pending_counts) AS places,
            (SELECT coalesce(sum(bytes), 0)::int FROM attachment_pending_counts) AS bytes,
            (SELECT count(*)::int FROM attachment_blob_deletions) AS queued`,
  );
  return rows[0];
}

function expectSlot(res: CallResult): string {
  expect(res.status, res.text).toBe(201);
  const { id, upload_url } = res.body as { id: string; upload_url: string };
  expect(new URL(upload_url).searchParams.get("sp")).toBe("cw");
  return id;
}

describe("POST /attachments: the slot is written by the statement that authenticates", () => {
  it("writes a slot with a session's token, one without a session (issued before sessions) and one with `sub` alone", async () => {
    for (const token of [
      (user: TestUser) => user.token,
      (user: TestUser) => signToken({ sub: user.username, uid: user.id, exp: inTenMinutes() }),
      (user: TestUser) => signToken({ sub: user.username, exp: inTenMinutes() }),
    ]) {
      const user = await newUser("slot_ok");
      const id = expectSlot(await requestSlot(token(user), file(7)));
      const { rows } = await getPool().query("SELECT owner_id, size::int FROM attachments WHERE id = $1", [id]);
      expect(rows).toEqual([{ owner_id: user.id, size: 7 }]);
      const counted = await getPool().query("SELECT count, bytes::int FROM attachment_pending_counts WHERE owner_id = $1", [user.id]);
      expect(counted.rows).toEqual([{ count: 1, bytes: 7 }]);
    }
  });

  const refusals: { name: string; token: (victim: TestUser, other: TestUser) => Promise<string> }[] = [
    { name: "garbage", token: async () => "garbage" },
    {
      name: "expired",
      token: async (victim) =>
        signToken({ sub: victim.username, uid: victim.id, sid: sessionIdOf(victim.token), exp: Math.floor(Date.now() / 1000) - 10 }),
    },
    {
      name: "sub naming another user than uid",
      token: async (victim, other) =>
        signToken({ sub: other.username, uid: victim.id, sid: sessionIdOf(victim.token), exp: inTenMinutes() }),
    },
    {
      name: "sub naming another user than uid, without a session",
      token: async (victim, other) => signToken({ sub: other.username, uid: victim.id, exp: inTenMinutes() }),
    },
    {
      name: "ended session",
      token: async (victim) => {
        await getPool().query("DELETE FROM sessions WHERE user_id = $1", [victim.id]);
        return victim.token;
      },
    },
    {
      name: "a session of another user",
      token: async (victim, other) =>
        signToken({ sub: victim.username, uid: victim.id, sid: sessionIdOf(other.token), exp: inTenMinutes() }),
    },
    {
      name: "a session that never was",
      token: async (victim) => signToken({ sub: victim.username, uid: victim.id, sid: ABSENT, exp: inTenMinutes() }),
    },
    {
      name: "deleted user",
      token: async (victim) => {
        await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [victim.id]);
        return victim.token;
      },
    },
    {
      name: "deleted user, token without a session",
      token: async (victim) => {
        await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [victim.id]);
        return signToken({ sub: victim.username, uid: victim.id, exp: inTenMinutes() });
      },
    },
    {
      name: "deleted user, `sub` alone",
      token: async (victim) => {
        await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [victim.id]);
        return signToken({ sub: victim.username, exp: inTenMinutes() });
      },
    },
    {
      name: "renamed user",
      token: async (victim) => {
        await getPool().query("UPDATE users SET username = username || '_renamed' WHERE id = $1", [victim.id]);
        return victim.token;
      },
    },
  ];

  it.each(refusals)("refuses a token with $name (401) and writes nothing", async (refusal) => {
    const [victim, other] = [await newUser("slot_victim"), await newUser("slot_other")];
    // Each holds a slot already: their counters exist, so a place taken in one would show.
    expectSlot(await requestSlot(victim.token));
    expectSlot(await requestSlot(other.token));
    const token = await refusal.token(victim, other);
    const before = await written();
    expectTokenRefused(await requestSlot(token));
    // A body that is not valid too: still the 401.
    expectTokenRefused(await requestSlot(token, { filename: "", content_type: "text", size: -1 }));
    expect(await written()).toEqual(before);
  });

  it("refuses a slot over the pending limits (429 with Retry-After) and writes nothing", async () => {
    const counted = await newUser("slot_count");
    for (let i = 0; i < 2; i++) expectSlot(await requestSlot(counted.token));
    let before = await written();
    const overCount = await requestSlot(counted.token);
    expect(overCount.status, overCount.text).toBe(429);
    expect(overCount.body).toEqual({ detail: ERRORS.tooManyPendingUploads });
    expect(Number(overCount.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await written()).toEqual(before);

    const weighed = await newUser("slot_bytes");
    expectSlot(await requestSlot(weighed.token, file(1000)));
    before = await written();
    const overBytes = await requestSlot(weighed.token, file(501));
    expect(overBytes.status, overBytes.text).toBe(429);
    expect(overBytes.body).toEqual({ detail: ERRORS.tooManyPendingUploadBytes });
    expect(await written()).toEqual(before);
    expectSlot(await requestSlot(weighed.token, file(500)));
  });

  it("takes the slot back when storage cannot sign its URL (503): no row, no place held, nothing queued", async () => {
    const user = await newUser("slot_storage");
    const store = await getBlobStore();
    const signing = vi.spyOn(store, "uploadUrl").mockRejectedValue(new StorageUnavailableError("Blob Storage failed to sign: test"));
    for (const existing of [0, 1]) {
      if (existing) {
        signing.mockRestore();
        expectSlot(await requestSlot(user.token));
        vi.spyOn(store, "uploadUrl").mockRejectedValue(new StorageUnavailableError("Blob Storage failed to sign: test"));
      }
      const before = await written();
      const res = await requestSlot(user.token, file(9));
      expect(res.status, res.text).toBe(503);
      expect(res.body).toEqual({ detail: ERRORS.storageUnavailable });
      expect(await written()).toEqual(before);
    }
    vi.restoreAllMocks();
    // The failures held no place: the user still gets the rest of the limit.
    expectSlot(await requestSlot(user.token));
    expect((await requestSlot(user.token)).status).toBe(429);
  });

  it("answers a bad body 422 and a file too large 413 after authentication, writing nothing", async () => {
    const user = await newUser("slot_body");
    const before = await written();
    const bad = await requestSlot(user.token, { filename: "a.txt", content_type: "text", size: 1 });
    expect(bad.status, bad.text).toBe(422);
    expect((bad.body as { detail: { loc: string[] }[] }).detail[0].loc).toEqual(["body", "content_type"]);
    const large = await requestSlot(user.token, file(1001));
    expect(large.status, large.text).toBe(413);
    expect(await written()).toEqual(before);
    const none = await requestSlot(undefined, { filename: "a.txt", content_type: "text", size: 1 });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ detail: ERRORS.notAuthenticated });
  });
});
