/**
 * Attachments: the bytes go straight between the app and Blob Storage, never through the API.
 * An upload asks the API for a slot (POST /attachments), then writes to its URL with
 * @azure/storage-blob's uploadData: one PUT for a small file, blocks in parallel for a large one,
 * reporting progress either way, in browsers and in Node. A download follows the API's redirect
 * to a short-lived read-only URL (fetch drops the Authorization header on that cross-origin hop, and
 * a browser sends it with the Origin "null", which the storage account's CORS allows for GET).
 */
import { BlockBlobClient } from "@azure/storage-blob";

import { ApiError, type Api } from "./api.js";

/** Files up to blockSize go in one request; larger ones in blocks of that size, some in parallel. */
export const UPLOAD_BLOCKS = { blockSize: 4 * 1024 * 1024, maxSingleShotSize: 4 * 1024 * 1024, concurrency: 4 } as const;

export interface UploadOptions {
  /** Called as bytes reach storage. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export interface UploadedAttachment {
  /** Name it in POST /messages/'s `attachments`. */
  id: string;
  filename: string;
  contentType: string;
  size: number;
}

interface UploadSlot {
  id: string;
  upload_url: string;
  headers: Record<string, string>;
}

const apiUrl = (api: Api, path: string) => `${api.apiUrl.replace(/\/+$/, "")}${path}`;

async function refused(res: Response, what: string): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { detail?: unknown };
  const detail = typeof body.detail === "string" ? `: ${body.detail}` : body.detail ? `: ${JSON.stringify(body.detail)}` : "";
  return new ApiError(`${what} answered ${res.status}${detail}`, res.status);
}

/** Uploads one file (a Blob or File in browsers, bytes anywhere) and returns the id to attach. */
export async function uploadAttachment(
  api: Api,
  file: { filename: string; contentType: string; data: Blob | ArrayBuffer | ArrayBufferView },
  options: UploadOptions = {},
): Promise<UploadedAttachment> {
  const size = file.data instanceof Blob ? file.data.size : file.data.byteLength;
  const res = await api.fetch(apiUrl(api, "/attachments"), {
    method: "POST",
    headers: { authorization: `Bearer ${await api.getToken()}`, "content-type": "application/json" },
    body: JSON.stringify({ filename: file.filename, content_type: file.contentType, size }),
    signal: options.signal,
  });
  if (res.status !== 201) throw await refused(res, "POST /attachments");
  const slot = (await res.json()) as UploadSlot;
  await new BlockBlobClient(slot.upload_url).uploadData(file.data, {
    blobHTTPHeaders: { blobContentType: slot.headers["Content-Type"] ?? file.contentType },
    ...UPLOAD_BLOCKS,
    abortSignal: options.signal,
    onProgress: (progress) => options.onProgress?.(progress.loadedBytes, size),
  });
  options.onProgress?.(size, size);
  return { id: slot.id, filename: file.filename, contentType: file.contentType, size };
}

/** The bytes of one attachment of a message the user holds. */
export async function downloadAttachment(api: Api, messageId: number, attachmentId: string, signal?: AbortSignal): Promise<Blob> {
  const res = await api.fetch(apiUrl(api, `/messages/${messageId}/attachments/${encodeURIComponent(attachmentId)}`), {
    headers: { authorization: `Bearer ${await api.getToken()}` },
    signal,
  });
  if (!res.ok) throw await refused(res, "GET the attachment");
  return res.blob();
}
