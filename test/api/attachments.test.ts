/**
 * Attachments (docs/api.md, Attachments) against azurite started by the stack: the upload slot
 * and what its URL allows, the limits, and the 503 when storage is gone.
 */
import { InvocationContext } from "@azure/functions";
import { BlobServiceClient } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";

import { attachmentsSweep } from "../../functions/attachments-sweep";
import { resetConfig } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { resetBlobStore } from "../../shared/storage/blob-store";
import { registerOverHttp, type HttpUser } from "../support/api";
import { putBytes, requestSlot, upload } from "../support/attachments";
import { useLocalStack } from "../support/stack";

const MAX = 1024 * 1024;
const open = useLocalStack({
  storage: true,
  webPubSub: false,
  env: { ATTACHMENT_MAX_BYTES: String(MAX), ATTACHMENT_PENDING_MAX: "4", ATTACHMENT_PENDING_MAX_BYTES: String(3 * MAX) },
});

let counter = 0;
const newUser = (): Promise<HttpUser> => registerOverHttp(open.url, `att${process.pid}x${counter++}`);

describe("POST /attachments", () => {
  it("answers 201 with a PUT URL for one blob, valid for ATTACHMENT_UPLOAD_MINUTES, that takes the bytes", async () => {
    const alice = await newUser();
    const before = Date.now();
    const { status, body } = await requestSlot(open.url, alice, { filename: "Relatório ünïcode.txt", content_type: "Text/Plain", size: 5 });
    expect(status).toBe(201);
    expect(body).toMatchObject({ method: "PUT", headers: { "x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain" } });
    const minutes = (Date.parse(body.expires_at) - before) / 60_000;
    expect(minutes).toBeGreaterThan(14.9);
    expect(minutes).toBeLessThan(15.1);
    const url = new URL(body.upload_url);
    expect(url.searchParams.get("sp")).toBe("cw");
    expect(url.searchParams.get("sr")).toBe("b");
    expect(url.pathname).not.toContain("Relat");
    expect(await putBytes(body, Buffer.from("hello"))).toBe(201);
    const { rows } = await getPool().query(
      "SELECT owner_id, filename, content_type, size::int, message_id FROM attachments WHERE id = $1",
      [body.id],
    );
    expect(rows).toEqual([
      { owner_id: alice.id, filename: "Relatório ünïcode.txt", content_type: "text/plain", size: 5, message_id: null },
    ]);
  });

  it("signs a URL that cannot read, list, or write another name", async () => {
    const alice = await newUser();
    const slot = await upload(open.url, alice, Buffer.from("secret bytes"));
    const url = new URL(slot.upload_url);
    expect((await fetch(url)).status).toBe(403);
    const container = new URL(url);
    container.pathname = url.pathname.replace(/\/[^/]+$/, "");
    container.searchParams.set("restype", "container");
    container.searchParams.set("comp", "list");
    expect((await fetch(container)).status).toBe(403);
    const other = new URL(url);
    other.pathname = url.pathname.replace(/\/[^/]+$/, "/another-name");
    expect(await putBytes(slot, Buffer.from("x"), other.toString())).toBe(403);
  });

  it("answers 413 for a size over ATTACHMENT_MAX_BYTES and records nothing", async () => {
    const alice = await newUser();
    const res = await requestSlot(open.url, alice, { filename: "big.bin", content_type: "application/octet-stream", size: MAX + 1 });
    expect(res.status).toBe(413);
    expect(res.body.detail).toBe(`An attachment may hold at most ${MAX} bytes`);
    expect((await requestSlot(open.url, alice, { filename: "max.bin", content_type: "application/octet-stream", size: MAX })).status).toBe(
      201,
    );
    const { rows } = await getPool().query("SELECT count(*)::int AS n FROM attachments WHERE owner_id = $1", [alice.id]);
    expect(rows[0].n).toBe(1);
  });

  it.each([
    ["a control character", "a\u0007b.txt"],
    ["a newline", "a\nb.txt"],
    ["a right-to-left override", "invoice\u202Etxt.exe"],
    ["a bidi isolate", "a\u2066b.txt"],
    ["a slash", "../etc/passwd"],
    ["a backslash", "..\\boot.ini"],
    ["nothing", ""],
    ["only spaces", "   "],
    ["a dot-dot", ".."],
    ["256 characters", "a".repeat(256)],
  ])("answers 422 naming filename for %s", async (_, filename) => {
    const alice = await newUser();
    const res = await requestSlot(open.url, alice, { filename, content_type: "text/plain", size: 1 });
    expect(res.status).toBe(422);
    expect((res.body.detail as { loc: string[] }[])[0].loc).toEqual(["body", "filename"]);
  });

  it("answers 422 for a bad content type or size", async () => {
    const alice = await newUser();
    for (const [field, file] of [
      ["content_type", { filename: "a.txt", content_type: "text", size: 1 }],
      ["content_type", { filename: "a.txt", content_type: "text/html; charset=utf-8", size: 1 }],
      ["size", { filename: "a.txt", content_type: "text/plain", size: -1 }],
      ["size", { filename: "a.txt", content_type: "text/plain", size: 1.5 }],
    ] as const) {
      const res = await requestSlot(open.url, alice, file);
      expect(res.status, JSON.stringify(file)).toBe(422);
      expect((res.body.detail as { loc: string[] }[])[0].loc).toEqual(["body", field]);
    }
  });

  it("bounds a user's pending uploads in count and in bytes (429), each user on their own", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const file = (size: number) => ({ filename: "f.bin", content_type: "application/octet-stream", size });
    // Bytes: three at MAX fill ATTACHMENT_PENDING_MAX_BYTES.
    for (let i = 0; i < 3; i++) expect((await requestSlot(open.url, alice, file(MAX))).status).toBe(201);
    const overBytes = await requestSlot(open.url, alice, file(1));
    expect(overBytes.status).toBe(429);
    expect(overBytes.body.detail).toBe(ERRORS.tooManyPendingUploadBytes);
    // Count: four at once, in parallel, never more than ATTACHMENT_PENDING_MAX.
    const statuses = await Promise.all(Array.from({ length: 8 }, () => requestSlot(open.url, bob, file(1)).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    const { rows } = await getPool().query("SELECT count(*)::int AS n FROM attachments WHERE owner_id = $1", [bob.id]);
    expect(rows[0].n).toBe(4);
  });

  it("answers 413 for a file larger than ATTACHMENT_PENDING_MAX_BYTES, which no wait would make room for", async () => {
    process.env.ATTACHMENT_PENDING_MAX_BYTES = String(MAX / 2);
    resetConfig();
    try {
      const res = await requestSlot(open.url, await newUser(), {
        filename: "f.bin",
        content_type: "application/octet-stream",
        size: MAX / 2 + 1,
      });
      expect(res.status).toBe(413);
      expect(res.body.detail).toBe(`An attachment may hold at most ${MAX / 2} bytes`);
    } finally {
      process.env.ATTACHMENT_PENDING_MAX_BYTES = String(3 * MAX);
      resetConfig();
    }
  });

  describe("the 429's Retry-After: until the sweep after the oldest uploads' expiry (24 hours) makes room", () => {
    const SWEEP_SECONDS = 5 * 60;
    const age = (id: string, hours: number) =>
      getPool().query("UPDATE attachments SET created_at = now() - make_interval(hours => $2) WHERE id = $1", [id, hours]);
    const slot = async (user: HttpUser, size: number, hoursOld: number) => {
      const res = await requestSlot(open.url, user, { filename: "f.bin", content_type: "application/octet-stream", size });
      expect(res.status).toBe(201);
      await age(res.body.id, hoursOld);
    };
    const retryAfter = async (user: HttpUser, size: number) => {
      const res = await fetch(`${open.url}/attachments`, {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
        body: JSON.stringify({ filename: "f.bin", content_type: "application/octet-stream", size }),
      });
      expect(res.status).toBe(429);
      return Number(res.headers.get("retry-after"));
    };
    const expectHoursLeft = (seconds: number, hours: number) => {
      expect(seconds).toBeGreaterThanOrEqual(hours * 3600 + SWEEP_SECONDS - 5);
      expect(seconds).toBeLessThanOrEqual(hours * 3600 + SWEEP_SECONDS + 1);
    };

    it("a full count frees a place when the oldest upload expires", async () => {
      const user = await newUser();
      for (const hoursOld of [20, 23, 21, 22]) await slot(user, 1, hoursOld);
      expectHoursLeft(await retryAfter(user, 1), 1);
    });

    it("full bytes free room when enough of the oldest uploads have expired, however many that takes", async () => {
      process.env.ATTACHMENT_PENDING_MAX = "10";
      resetConfig();
      try {
        const user = await newUser();
        // Oldest first: 1 byte (1 h left), 1 byte (2 h), MAX (3 h), MAX (4 h), MAX - 2 (5 h): 3 MAX held.
        for (const [size, hoursOld] of [
          [1, 23],
          [1, 22],
          [MAX, 21],
          [MAX, 20],
          [MAX - 2, 19],
        ])
          await slot(user, size, hoursOld);
        // 5 more bytes need the first three gone.
        expectHoursLeft(await retryAfter(user, 5), 3);
        // 2 more need the first two.
        expectHoursLeft(await retryAfter(user, 2), 2);
      } finally {
        process.env.ATTACHMENT_PENDING_MAX = "4";
        resetConfig();
      }
    });
  });

  it("answers 401 without a token", async () => {
    const res = await fetch(`${open.url}/attachments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filename: "a.txt", content_type: "text/plain", size: 1 }),
    });
    expect(res.status).toBe(401);
  });
});

describe("the attachments sweep", () => {
  const blobNameOf = async (id: string): Promise<string> =>
    (await getPool().query<{ blob_name: string }>("SELECT blob_name FROM attachments WHERE id = $1", [id])).rows[0].blob_name;
  const blobExists = (name: string) =>
    BlobServiceClient.fromConnectionString(open.stack.storage!.connectionString)
      .getContainerClient("attachments")
      .getBlobClient(name)
      .exists();
  const sweep = () => attachmentsSweep.handler(new InvocationContext({ functionName: "attachments-sweep" }));
  const age = (id: string, hours: number) =>
    getPool().query("UPDATE attachments SET created_at = now() - make_interval(hours => $2) WHERE id = $1", [id, hours]);

  it("deletes uploads never attached after 24 hours, row and blob, and keeps younger ones", async () => {
    const alice = await newUser();
    const [old, young] = [await upload(open.url, alice, Buffer.from("old")), await upload(open.url, alice, Buffer.from("young"))];
    const [oldBlob, youngBlob] = [await blobNameOf(old.id), await blobNameOf(young.id)];
    await age(old.id, 25);
    await age(young.id, 23);
    expect(await blobExists(oldBlob)).toBe(true);
    await sweep();
    expect(await blobExists(oldBlob)).toBe(false);
    expect(await blobExists(youngBlob)).toBe(true);
    const { rows } = await getPool().query("SELECT id FROM attachments WHERE id = ANY($1)", [[old.id, young.id]]);
    expect(rows).toEqual([{ id: young.id }]);
  });

  it("keeps a blob queued while storage is unreachable and deletes it on a later sweep", async () => {
    const alice = await newUser();
    const slot = await upload(open.url, alice, Buffer.from("later"));
    const blob = await blobNameOf(slot.id);
    await age(slot.id, 25);
    const reachable = process.env.ATTACHMENT_STORAGE_CONNECTION_STRING!;
    process.env.ATTACHMENT_STORAGE_CONNECTION_STRING = reachable.replace(/127\.0\.0\.1:\d+/, "127.0.0.1:9");
    resetConfig();
    resetBlobStore();
    try {
      await sweep();
    } finally {
      process.env.ATTACHMENT_STORAGE_CONNECTION_STRING = reachable;
      resetConfig();
      resetBlobStore();
    }
    expect((await getPool().query("SELECT 1 FROM attachments WHERE id = $1", [slot.id])).rowCount).toBe(0);
    expect((await getPool().query("SELECT 1 FROM attachment_blob_deletions WHERE blob_name = $1", [blob])).rowCount).toBe(1);
    expect(await blobExists(blob)).toBe(true);
    await sweep();
    expect(await blobExists(blob)).toBe(false);
    expect((await getPool().query("SELECT 1 FROM attachment_blob_deletions WHERE blob_name = $1", [blob])).rowCount).toBe(0);
  });
});
