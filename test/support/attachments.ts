/** A client of the attachment routes over real HTTP: an upload slot, the upload straight to storage. */
import { connectionStringFor } from "../../local/azurite";
import { resetBlobStore } from "../../shared/storage/blob-store";
import type { HttpUser } from "./api";

export interface UploadSlot {
  id: string;
  upload_url: string;
  method: "PUT";
  headers: Record<string, string>;
  expires_at: string;
}

export async function requestSlot(base: string, user: HttpUser, file: { filename: string; content_type: string; size: number }) {
  const res = await fetch(`${base}/attachments`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: JSON.stringify(file),
  });
  return { status: res.status, body: (await res.json()) as UploadSlot & { detail?: unknown } };
}

/** Puts `bytes` where the slot says, as a client would; the storage's status. */
export async function putBytes(
  slot: Pick<UploadSlot, "upload_url" | "headers">,
  bytes: Uint8Array,
  url = slot.upload_url,
): Promise<number> {
  const res = await fetch(url, { method: "PUT", headers: slot.headers, body: bytes });
  await res.arrayBuffer();
  return res.status;
}

/** A slot for `bytes`, filled. */
export async function upload(base: string, user: HttpUser, bytes: Uint8Array, filename = "notes.txt", contentType = "text/plain") {
  const { status, body } = await requestSlot(base, user, { filename, content_type: contentType, size: bytes.length });
  if (status !== 201) throw new Error(`upload slot: ${status} ${JSON.stringify(body)}`);
  const stored = await putBytes(body, bytes);
  if (stored !== 201) throw new Error(`upload: storage answered ${stored}`);
  return body;
}

/**
 * Attachments signed with an account key for a storage account nobody serves: for tests of routes
 * that only sign a URL (the download's redirect), so no storage service is asked. Returns what
 * puts the setting back.
 */
export function useKeySignedStorage(): () => void {
  const previous = process.env.ATTACHMENT_STORAGE_CONNECTION_STRING;
  process.env.ATTACHMENT_STORAGE_CONNECTION_STRING = connectionStringFor("http://127.0.0.1:9/devstoreaccount1");
  resetBlobStore();
  return () => {
    if (previous === undefined) delete process.env.ATTACHMENT_STORAGE_CONNECTION_STRING;
    else process.env.ATTACHMENT_STORAGE_CONNECTION_STRING = previous;
    resetBlobStore();
  };
}
