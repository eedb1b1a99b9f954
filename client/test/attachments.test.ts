/**
 * The client library's uploads and downloads against the local stack with azurite: a large file
 * goes up in blocks with progress, and the recipient downloads the same bytes.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";

import { registerOverHttp } from "../../test/support/api.js";
import { useLocalStack } from "../../test/support/stack.js";
import { downloadAttachment, uploadAttachment } from "../src/index.js";

const open = useLocalStack({ storage: true, webPubSub: false });

describe("uploadAttachment and downloadAttachment", () => {
  it("uploads 9 MiB in blocks with rising progress; the recipient downloads the same bytes", async () => {
    const [alice, bob] = [await registerOverHttp(open.url, "client_alice"), await registerOverHttp(open.url, "client_bob")];
    const api = (token: string) => ({ apiUrl: open.url, getToken: () => token, fetch });
    const bytes = randomBytes(9 * 1024 * 1024);
    const progress: number[] = [];
    const uploaded = await uploadAttachment(
      api(alice.token),
      { filename: "big.bin", contentType: "application/octet-stream", data: bytes },
      { onProgress: (loaded) => progress.push(loaded) },
    );
    // Several blocks, so several reports before the last, never going back.
    expect(progress.length).toBeGreaterThan(2);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(bytes.length);
    const sent = await fetch(`${open.url}/messages/`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
      body: JSON.stringify({ to: [bob.id], title: "big", body: "file", attachments: [uploaded.id] }),
    });
    expect(sent.status).toBe(200);
    const { id } = (await sent.json()) as { id: number };
    const blob = await downloadAttachment(api(bob.token), id, uploaded.id);
    expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
