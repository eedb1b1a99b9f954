/**
 * Sending with attachments and downloading them (CONTRACT.md, Attachments 3-5) against azurite:
 * the checks a send makes against the blob's own properties, the download redirect and its
 * forced headers, who may download, the malware verdict, and the blob going with the last copy.
 */
import { InvocationContext } from "@azure/functions";
import { BlobServiceClient } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";

import { attachmentsSweep } from "../../functions/attachments-sweep";
import { getConfig, resetConfig } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { createBlobStore } from "../../shared/storage/blob-store";
import { registerOverHttp, TEST_PASSWORD, type HttpUser } from "../support/api";
import { putBytes, requestSlot, upload } from "../support/attachments";
import { useLocalStack } from "../support/stack";

const MAX = 1024 * 1024;
const open = useLocalStack({
  storage: true,
  webPubSub: false,
  env: { ATTACHMENT_MAX_BYTES: String(MAX), ATTACHMENT_PENDING_MAX: "50", ATTACHMENT_PENDING_MAX_BYTES: String(100 * MAX) },
});

let counter = 0;
const newUser = (): Promise<HttpUser> => registerOverHttp(open.url, `snd${process.pid}x${counter++}`);
const container = () => BlobServiceClient.fromConnectionString(open.stack.storage!.connectionString).getContainerClient("attachments");
const blobNameOf = async (id: string) =>
  (await getPool().query<{ blob_name: string }>("SELECT blob_name FROM attachments WHERE id = $1", [id])).rows[0].blob_name;

async function send(from: HttpUser, to: HttpUser, attachments: string[], headers: Record<string, string> = {}) {
  const res = await fetch(`${open.url}/messages/`, {
    method: "POST",
    headers: { authorization: `Bearer ${from.token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ to: [to.id], title: "files", body: "see attached", attachments }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { detail?: { loc: unknown[]; msg: string }[] } };
}

const download = (user: HttpUser, messageId: number, attachmentId: string) =>
  fetch(`${open.url}/messages/${messageId}/attachments/${attachmentId}`, {
    headers: { authorization: `Bearer ${user.token}` },
    redirect: "manual",
  });

const messageCount = async (senderId: number) =>
  (await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE sender_id = $1", [senderId])).rows[0].n;

describe("POST /messages/ with attachments", () => {
  it("attaches the sender's uploads in order; the message shows them; the recipient downloads the same bytes", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const pdf = Buffer.from("%PDF-1.4 not really");
    const html = Buffer.from("<script>alert(1)</script>");
    const a = await upload(open.url, alice, pdf, "Relatório final.pdf", "application/pdf");
    const b = await upload(open.url, alice, html, "page.html", "text/html");
    const sent = await send(alice, bob, [b.id, a.id]);
    expect(sent.status).toBe(200);
    expect(sent.body.attachments).toEqual([
      { id: b.id, filename: "page.html", content_type: "text/html", size: html.length },
      { id: a.id, filename: "Relatório final.pdf", content_type: "application/pdf", size: pdf.length },
    ]);
    const messageId = sent.body.id as number;
    const inbox = await fetch(`${open.url}/messages/${messageId}`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(((await inbox.json()) as { attachments: unknown }).attachments).toEqual(sent.body.attachments);

    const res = await download(bob, messageId, a.id);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin).toBe(new URL(open.stack.storage!.blobEndpoint).origin);
    expect(location.searchParams.get("sp")).toBe("r");
    const minutes = (Date.parse(location.searchParams.get("se")!) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(4);
    expect(minutes).toBeLessThanOrEqual(5);
    const file = await fetch(location);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer())).toEqual(pdf);
    expect(file.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''Relat%C3%B3rio%20final.pdf");
    expect(file.headers.get("content-type")).toBe("application/pdf");
    // Not on the safe list: served as bytes, never as a page.
    const unsafe = await fetch((await download(bob, messageId, b.id)).headers.get("location")!);
    expect(unsafe.headers.get("content-type")).toBe("application/octet-stream");
    expect(unsafe.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''page.html");
    expect(Buffer.from(await unsafe.arrayBuffer())).toEqual(html);
    // The sender sees them too; nobody else does.
    expect((await download(alice, messageId, a.id)).status).toBe(302);
    const carol = await newUser();
    expect((await download(carol, messageId, a.id)).status).toBe(404);
    expect((await download(bob, messageId, "not-a-uuid")).status).toBe(404);
    // The list filter sees the flag.
    const listed = await fetch(`${open.url}/messages/?has_attachments=true`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(((await listed.json()) as { id: number }[]).map((m) => m.id)).toEqual([messageId]);
  });

  it("after the send, the still-valid upload URL can no longer replace the file", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const slot = await upload(open.url, alice, Buffer.from("original"));
    const sent = await send(alice, bob, [slot.id]);
    expect(sent.status).toBe(200);
    expect(await putBytes(slot, Buffer.from("replaced"))).toBe(412);
    const file = await fetch((await download(bob, sent.body.id as number, slot.id)).headers.get("location")!);
    expect(await file.text()).toBe("original");
  });

  it("answers 422 naming the attachment for an unknown, foreign, incomplete, resized or already attached upload, storing nothing", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const good = await upload(open.url, alice, Buffer.from("fine"));
    const foreign = await upload(open.url, bob, Buffer.from("bob's"));
    const { body: incomplete } = await requestSlot(open.url, alice, {
      filename: "a.bin",
      content_type: "application/octet-stream",
      size: 10,
    });
    const resized = await requestSlot(open.url, alice, { filename: "b.bin", content_type: "application/octet-stream", size: 10 });
    expect(await putBytes(resized.body, Buffer.alloc(11))).toBe(201);
    const unknown = "00000000-0000-4000-8000-000000000000";
    for (const [bad, words] of [
      [unknown, "is not an upload of yours"],
      [foreign.id, "is not an upload of yours"],
      [incomplete.id, "has not been uploaded"],
      [resized.body.id, "holds 11 bytes, not the 10 declared"],
    ] as const) {
      const res = await send(alice, bob, [good.id, bad]);
      expect(res.status, bad).toBe(422);
      expect(res.body.detail![0].loc).toEqual(["body", "attachments", 1]);
      expect(res.body.detail![0].msg).toContain(words);
    }
    expect(await messageCount(alice.id)).toBe(0);
    // The good one was given back each time: it still goes out.
    const first = await send(alice, bob, [good.id]);
    expect(first.status).toBe(200);
    const again = await send(alice, bob, [good.id]);
    expect(again.status).toBe(422);
    expect(again.body.detail![0].msg).toContain("already attached");
    expect(await messageCount(alice.id)).toBe(1);
  });

  it("an upload URL that expired is refused by storage, and the send naming its attachment is a 422", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const file = { filename: "late.bin", content_type: "application/octet-stream", size: 4 };
    const [late, onTime] = [(await requestSlot(open.url, alice, file)).body, (await requestSlot(open.url, alice, file)).body];
    // The route's own signing, with a lifetime of two seconds instead of ATTACHMENT_UPLOAD_MINUTES.
    const { attachments, azureClientId } = getConfig();
    const store = await createBlobStore(attachments, azureClientId);
    const expiresOn = new Date(Date.now() + 2_000);
    const [lateUrl, onTimeUrl] = [
      await store.uploadUrl(await blobNameOf(late.id), expiresOn),
      await store.uploadUrl(await blobNameOf(onTime.id), expiresOn),
    ];
    expect(await putBytes(onTime, Buffer.from("fine"), onTimeUrl)).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, expiresOn.getTime() - Date.now() + 1_100));
    const refused = await fetch(lateUrl, { method: "PUT", headers: late.headers, body: Buffer.from("late") });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/AuthenticationFailed|AuthorizationFailure/);
    expect(
      await container()
        .getBlobClient(await blobNameOf(late.id))
        .exists(),
    ).toBe(false);

    const res = await send(alice, bob, [onTime.id, late.id]);
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      {
        type: "value_error",
        loc: ["body", "attachments", 1],
        msg: `Value error, attachment ${late.id} has not been uploaded (or its upload URL expired before it was)`,
        input: late.id,
      },
    ]);
    expect(await messageCount(alice.id)).toBe(0);
    // The file that arrived in time was given back and still goes out.
    expect((await send(alice, bob, [onTime.id])).status).toBe(200);
  });

  it("replays an idempotent retry of a send with attachments instead of refusing them", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const slot = await upload(open.url, alice, Buffer.from("once"));
    const first = await send(alice, bob, [slot.id], { "Idempotency-Key": "attach-1" });
    const retry = await send(alice, bob, [slot.id], { "Idempotency-Key": "attach-1" });
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(await messageCount(alice.id)).toBe(1);
  });

  it("refuses more than 10 attachments, one listed twice, and more than ATTACHMENT_MAX_BYTES in all (422)", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const ids = Array.from({ length: 11 }, (_, i) => `00000000-0000-4000-8000-0000000000${String(i).padStart(2, "0")}`);
    expect((await send(alice, bob, ids)).status).toBe(422);
    const one = await upload(open.url, alice, Buffer.from("x"));
    const twice = await send(alice, bob, [one.id, one.id]);
    expect(twice.status).toBe(422);
    expect(twice.body.detail![0].loc).toEqual(["body", "attachments", 1]);
    const big = await Promise.all([1, 2].map(() => upload(open.url, alice, Buffer.alloc(MAX / 2 + 1))));
    const over = await send(
      alice,
      bob,
      big.map((s) => s.id),
    );
    expect(over.status).toBe(422);
    expect(over.body.detail![0].loc).toEqual(["body", "attachments"]);
    expect(await messageCount(alice.id)).toBe(0);
  });
});

describe("malware scanning", () => {
  it("holds a download while no verdict is written (409 Retry-After), refuses a threat (410), serves a clean file", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const slots = [await upload(open.url, alice, Buffer.from("pending")), await upload(open.url, alice, Buffer.from("bad"))];
    slots.push(await upload(open.url, alice, Buffer.from("clean")));
    // What Defender writes on upload, set here by hand: nothing yet, a threat, no threat.
    await container()
      .getBlobClient(await blobNameOf(slots[1].id))
      .setTags({ "Malware Scanning scan result": "Malicious" });
    await container()
      .getBlobClient(await blobNameOf(slots[2].id))
      .setTags({ "Malware Scanning scan result": "No threats found" });
    const sent = await send(
      alice,
      bob,
      slots.map((s) => s.id),
    );
    expect(sent.status).toBe(200);
    const get = (i: number) => download(bob, sent.body.id as number, slots[i].id);
    process.env.ATTACHMENT_MALWARE_SCANNING = "true";
    resetConfig();
    try {
      const pending = await get(0);
      expect(pending.status).toBe(409);
      expect(pending.headers.get("retry-after")).toBe("5");
      expect(((await pending.json()) as { detail: string }).detail).toBe(ERRORS.attachmentBeingScanned);
      expect((await get(1)).status).toBe(410);
      expect((await get(2)).status).toBe(302);
    } finally {
      delete process.env.ATTACHMENT_MALWARE_SCANNING;
      resetConfig();
    }
    // Scanning off: the app does not wait.
    expect((await get(0)).status).toBe(302);
  });
});

describe("erasure", () => {
  it("deletes the blob when the last copy of its message is deleted, not before", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const slot = await upload(open.url, alice, Buffer.from("short-lived"));
    const sent = await send(alice, bob, [slot.id]);
    const blob = container().getBlobClient(await blobNameOf(slot.id));
    const remove = (user: HttpUser) =>
      fetch(`${open.url}/messages/${sent.body.id}`, { method: "DELETE", headers: { authorization: `Bearer ${user.token}` } });
    expect((await remove(alice)).status).toBe(204);
    expect(await blob.exists()).toBe(true);
    expect((await download(bob, sent.body.id as number, slot.id)).status).toBe(302);
    expect((await remove(bob)).status).toBe(204);
    expect(await blob.exists()).toBe(false);
    expect((await getPool().query("SELECT 1 FROM attachments WHERE id = $1", [slot.id])).rowCount).toBe(0);
  });
});

describe("erasure with accounts deleted", () => {
  const deleteAccount = async (user: HttpUser) => {
    const res = await fetch(`${open.url}/users/me`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
      body: JSON.stringify({ password: TEST_PASSWORD }),
    });
    expect(res.status).toBe(204);
  };
  const deleteCopy = (user: HttpUser, messageId: number) =>
    fetch(`${open.url}/messages/${messageId}`, { method: "DELETE", headers: { authorization: `Bearer ${user.token}` } });
  const rowsOf = async (ids: string[]) => (await getPool().query("SELECT id FROM attachments WHERE id = ANY($1::uuid[])", [ids])).rowCount;

  it("deleting an account deletes the blobs nobody else holds (its notes to itself, its pending uploads), and keeps those a recipient holds", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const mine = await upload(open.url, alice, Buffer.from("note to self"));
    const shared = await upload(open.url, alice, Buffer.from("for bob"));
    const pending = await upload(open.url, alice, Buffer.from("never sent"));
    const note = await send(alice, alice, [mine.id]);
    const toBob = await send(alice, bob, [shared.id]);
    expect([note.status, toBob.status]).toEqual([200, 200]);
    const [mineBlob, sharedBlob, pendingBlob] = await Promise.all([mine, shared, pending].map((a) => blobNameOf(a.id)));
    const exists = (name: string) => container().getBlobClient(name).exists();

    await deleteAccount(alice);
    expect(await exists(mineBlob)).toBe(false);
    expect(await exists(pendingBlob)).toBe(false);
    expect(await exists(sharedBlob)).toBe(true);
    expect(await rowsOf([mine.id, pending.id])).toBe(0);
    // Bob still downloads it, from "deleted user".
    const res = await download(bob, toBob.body.id as number, shared.id);
    expect(res.status).toBe(302);
    expect(await (await fetch(res.headers.get("location")!)).text()).toBe("for bob");
  });

  it("a deleted sender's message loses its blob with the recipient's last copy, whether deleted alone or with the recipient's account", async () => {
    const [alice, bob, carol] = [await newUser(), await newUser(), await newUser()];
    const toBob = await upload(open.url, alice, Buffer.from("to bob"));
    const toCarol = await upload(open.url, alice, Buffer.from("to carol"));
    const [bobMessage, carolMessage] = [await send(alice, bob, [toBob.id]), await send(alice, carol, [toCarol.id])];
    const [bobBlob, carolBlob] = [await blobNameOf(toBob.id), await blobNameOf(toCarol.id)];
    const exists = (name: string) => container().getBlobClient(name).exists();
    await deleteAccount(alice);
    expect(await exists(bobBlob)).toBe(true);
    expect(await exists(carolBlob)).toBe(true);

    expect((await deleteCopy(bob, bobMessage.body.id as number)).status).toBe(204);
    expect(await exists(bobBlob)).toBe(false);
    await deleteAccount(carol);
    expect(await exists(carolBlob)).toBe(false);
    expect(await rowsOf([toBob.id, toCarol.id])).toBe(0);
    expect(
      (await getPool().query("SELECT 1 FROM messages WHERE id = ANY($1::int[])", [[bobMessage.body.id, carolMessage.body.id]])).rowCount,
    ).toBe(0);
    expect(
      (await getPool().query("SELECT 1 FROM attachment_blob_deletions WHERE blob_name = ANY($1)", [[bobBlob, carolBlob]])).rowCount,
    ).toBe(0);
  });
});

describe("the pending-upload counter (migration 21)", () => {
  const sweep = () => attachmentsSweep.handler(new InvocationContext({ functionName: "attachments-sweep" }));
  const expire = (ids: string[]) =>
    getPool().query("UPDATE attachments SET created_at = now() - interval '25 hours' WHERE id = ANY($1::uuid[])", [ids]);
  /** Owners whose counter differs from a count of their pending rows. */
  const drift = async () =>
    (
      await getPool().query(
        `SELECT owner_id, c.count, c.bytes::float8 AS bytes, r.count AS recount, r.bytes::float8 AS rebytes
           FROM attachment_pending_counts c
           FULL JOIN (SELECT owner_id, count(*)::int AS count, sum(size) AS bytes FROM attachments
                       WHERE message_id IS NULL AND owner_id IS NOT NULL GROUP BY owner_id) r USING (owner_id)
          WHERE coalesce(c.count, 0) <> coalesce(r.count, 0) OR coalesce(c.bytes, 0) <> coalesce(r.bytes, 0)`,
      )
    ).rows;

  it("equals a recount after concurrent slots, sends, failed sends, sweeps and an account deletion", async () => {
    const users: HttpUser[] = [];
    for (let i = 0; i < 4; i++) users.push(await newUser());
    const [recipient, leaver] = [await newUser(), await newUser()];
    await upload(open.url, leaver, Buffer.from("left behind"));
    const leave = async () => {
      await upload(open.url, leaver, Buffer.from("also left behind"));
      const res = await fetch(`${open.url}/users/me`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${leaver.token}`, "content-type": "application/json" },
        body: JSON.stringify({ password: TEST_PASSWORD }),
      });
      expect(res.status).toBe(204);
    };
    const work = users.map(async (user, u) => {
      for (let round = 0; round < 3; round++) {
        const files = await Promise.all([0, 1, 2].map((i) => upload(open.url, user, Buffer.from(`user ${u} round ${round} file ${i}`))));
        const unfilled = await Promise.all(
          [1, 2].map(() => requestSlot(open.url, user, { filename: "later.bin", content_type: "application/octet-stream", size: 10 + u })),
        );
        expect(unfilled.map((s) => s.status)).toEqual([201, 201]);
        await expire([files[2].id, unfilled[0].body.id]);
        // The expired file may be swept before or during its send (422, the send rolled back) or after it (200).
        const [sent, late] = await Promise.all([
          send(user, recipient, [files[0].id, files[1].id]),
          send(user, recipient, [files[2].id]),
          sweep(),
        ]);
        expect(sent.status).toBe(200);
        expect([200, 422]).toContain(late.status);
      }
    });
    await Promise.all([...work, leave(), sweep()]);
    await sweep();
    expect(await drift()).toEqual([]);
    // Each user still holds its unexpired, unfilled slots: the counter is not trivially empty.
    const { rows } = await getPool().query<{ count: number }>(
      "SELECT count FROM attachment_pending_counts WHERE owner_id = ANY($1) ORDER BY owner_id",
      [users.map((user) => user.id)],
    );
    expect(rows).toEqual(users.map(() => ({ count: 3 })));
  });
});

describe("storage unreachable", () => {
  it("answers a send with attachments 503 with a detail, quickly, and stores nothing", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const slot = await upload(open.url, alice, Buffer.from("stranded"));
    await open.stack.storage!.close();
    const started = Date.now();
    const res = await send(alice, bob, [slot.id]);
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body).toEqual({ detail: ERRORS.storageUnavailable });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await messageCount(alice.id)).toBe(0);
  });
});
