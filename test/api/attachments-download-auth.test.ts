/**
 * Who may download (GET /messages/{message_id}/attachments/{attachment_id}) now that the viewer
 * check rides on the statement that authenticates: every token authentication refuses is the same
 * 401 whether or not the attachment exists, and the ids that cannot name a row are 404s that never
 * reach SQL. Signing with the account key needs no storage service, so no azurite here (the
 * redirect's bytes: attachments-send.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { attachmentsDownload } from "../../functions/attachments-download";
import { messagesSend } from "../../functions/messages-send";
import { issueAccessToken } from "../../shared/auth/tokens";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { useKeySignedStorage } from "../support/attachments";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { expectTokenRefused, sessionIdOf, signToken } from "../support/tokens";
import { newUser, type TestUser } from "../support/users";

const ABSENT = "00000000-0000-4000-8000-000000000000";

let db: TestDatabase;
let restoreStorage: () => void;

beforeAll(async () => {
  restoreStorage = useKeySignedStorage();
  db = await useTestDatabase();
});
afterAll(async () => {
  restoreStorage();
  await db.close();
});

interface Shared {
  sender: TestUser;
  recipient: TestUser;
  messageId: number;
  attachmentId: string;
  blobName: string;
}

let files = 0;

/** A message from a new sender to a new recipient carrying one attachment (its row written as a send leaves it). */
async function sharedFile(): Promise<Shared> {
  const [sender, recipient] = [await newUser("dl_from"), await newUser("dl_to")];
  const sent = await call(messagesSend, { method: "POST", token: sender.token, json: { to: [recipient.id], title: "file", body: "b" } });
  expect(sent.status, sent.text).toBe(200);
  const messageId = (sent.body as { id: number }).id;
  const blobName = `blob-${process.pid}-${files++}`;
  const { rows } = await getPool().query<{ id: string }>(
    `INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size, message_id, position)
     VALUES (gen_random_uuid(), $1, $2, 'notes.txt', 'text/plain', 5, $3, 1) RETURNING id`,
    [sender.id, blobName, messageId],
  );
  return { sender, recipient, messageId, attachmentId: rows[0].id, blobName };
}

const download = (token: string | undefined, messageId: number | string, attachmentId: string): Promise<CallResult> =>
  call(attachmentsDownload, { token, params: { message_id: String(messageId), attachment_id: attachmentId } });

function expectRedirectTo(res: CallResult, file: Shared): void {
  expect(res.status, res.text).toBe(302);
  expect(new URL(res.headers.get("location")!).pathname).toBe(`/devstoreaccount1/attachments/${file.blobName}`);
}

describe("GET /messages/{message_id}/attachments/{attachment_id}: who may download", () => {
  it("redirects the sender and the recipient, with a session, without one (tokens issued before sessions) and with `sub` alone", async () => {
    const file = await sharedFile();
    const now = Math.floor(Date.now() / 1000);
    for (const user of [file.sender, file.recipient]) {
      expectRedirectTo(await download(user.token, file.messageId, file.attachmentId), file);
      expectRedirectTo(await download(issueAccessToken(user), file.messageId, file.attachmentId), file);
      expectRedirectTo(await download(signToken({ sub: user.username, exp: now + 600 }), file.messageId, file.attachmentId), file);
    }
  });

  it("is 404 for a user without a copy, whatever the token, and for ids that cannot name a row", async () => {
    const file = await sharedFile();
    const stranger = await newUser("dl_stranger");
    const now = Math.floor(Date.now() / 1000);
    for (const token of [stranger.token, issueAccessToken(stranger), signToken({ sub: stranger.username, exp: now + 600 })]) {
      const res = await download(token, file.messageId, file.attachmentId);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: ERRORS.attachmentNotFound });
    }
    for (const [messageId, attachmentId] of [
      [file.messageId, ABSENT],
      [file.messageId, "not-a-uuid"],
      [file.messageId, `${file.attachmentId}x`],
      [2_147_483_648, file.attachmentId],
      [0, file.attachmentId],
      [file.messageId + 1, file.attachmentId],
    ] as const) {
      const res = await download(file.recipient.token, messageId, attachmentId);
      expect(res.status, `${messageId} ${attachmentId}`).toBe(404);
      expect(res.body).toEqual({ detail: ERRORS.attachmentNotFound });
    }
  });

  it("answers a message id that is not a (safe) integer with 422, and an unauthenticated caller's with 401 first", async () => {
    const file = await sharedFile();
    for (const messageId of ["abc", "99999999999999999999"])
      expect((await download(file.recipient.token, messageId, file.attachmentId)).status).toBe(422);
    expectTokenRefused(await download("garbage", "abc", file.attachmentId));
    const none = await download(undefined, "abc", file.attachmentId);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ detail: ERRORS.notAuthenticated });
  });

  it("refuses every token authentication refuses with the same 401, whether or not the attachment exists", async () => {
    const now = Math.floor(Date.now() / 1000);
    const refusals: { name: string; token: (file: Shared) => Promise<string> }[] = [
      { name: "garbage", token: async () => "garbage" },
      {
        name: "expired",
        token: async ({ recipient }) =>
          signToken({ sub: recipient.username, uid: recipient.id, sid: sessionIdOf(recipient.token), exp: now - 10 }),
      },
      {
        name: "sub and uid disagree",
        token: async ({ recipient, sender }) =>
          signToken({ sub: sender.username, uid: recipient.id, sid: sessionIdOf(recipient.token), exp: now + 600 }),
      },
      {
        name: "ended session",
        token: async ({ recipient }) => {
          await getPool().query("DELETE FROM sessions WHERE user_id = $1", [recipient.id]);
          return recipient.token;
        },
      },
      {
        name: "a session that never was",
        token: async ({ recipient }) => signToken({ sub: recipient.username, uid: recipient.id, sid: ABSENT, exp: now + 600 }),
      },
      {
        name: "deleted user",
        token: async ({ recipient }) => {
          await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [recipient.id]);
          return recipient.token;
        },
      },
      {
        name: "deleted user, token without a session",
        token: async ({ recipient }) => {
          const token = issueAccessToken(recipient);
          await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [recipient.id]);
          return token;
        },
      },
      {
        name: "deleted user, `sub` alone",
        token: async ({ recipient }) => {
          await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [recipient.id]);
          return signToken({ sub: recipient.username, exp: now + 600 });
        },
      },
      {
        name: "renamed user",
        token: async ({ recipient }) => {
          await getPool().query("UPDATE users SET username = username || '_renamed' WHERE id = $1", [recipient.id]);
          return recipient.token;
        },
      },
    ];
    for (const refusal of refusals) {
      const file = await sharedFile();
      expectRedirectTo(await download(file.recipient.token, file.messageId, file.attachmentId), file);
      const token = await refusal.token(file);
      const answers = [];
      for (const [messageId, attachmentId] of [
        [file.messageId, file.attachmentId],
        [file.messageId, ABSENT],
        [file.messageId, "not-a-uuid"],
        [2_147_483_648, file.attachmentId],
      ] as const) {
        const res = await download(token, messageId, attachmentId);
        expectTokenRefused(res);
        answers.push({ status: res.status, text: res.text, challenge: res.headers.get("www-authenticate") });
      }
      expect(new Set(answers.map((a) => JSON.stringify(a))).size, refusal.name).toBe(1);
    }
  });
});
