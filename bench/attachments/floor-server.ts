/**
 * The floor for the attachment routes: a bare `node:http` server that authenticates as the
 * throughput floor does (the token verified, the user looked up in its session) and signs one
 * SAS with @azure/storage-blob, and nothing else: no upload row, no access check, no Functions
 * objects. An upload slot signs create/write on a new blob name; a download signs read on the
 * blob named by FLOOR_BLOB_NAME with the same response overrides, and redirects to it.
 *
 * Started by bench/attachments.ts as a child process; prints `{"url":...}` when ready.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BlobSASPermissions, BlobServiceClient, SASProtocol } from "@azure/storage-blob";

import { getConfig } from "../../shared/config/config";
import { attachmentDisposition, servedContentType } from "../../shared/storage/rules";
import { currentUser, reply, serveFloor } from "../throughput/floor-http";

const { attachments } = getConfig();
if (attachments.storage.kind !== "connectionString") throw new Error("the floor signs with an account-key connection string");
const container = BlobServiceClient.fromConnectionString(attachments.storage.connectionString).getContainerClient(attachments.container);
const download = {
  blobName: process.env.FLOOR_BLOB_NAME ?? "",
  filename: process.env.FLOOR_FILENAME ?? "",
  contentType: process.env.FLOOR_CONTENT_TYPE ?? "",
};

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The body is drained, not read: the floor signs the same blob whatever it says.
  req.resume();
  const user = await currentUser(req);
  if (!user) return reply(res, 401, { detail: "Could not validate credentials" });
  // Authentication alone, to tell the host's share of a route's cost from the route's own.
  if (req.method === "GET" && req.url === "/users/me") return reply(res, 200, user);
  if (req.method === "POST" && req.url === "/attachments") {
    const expiresOn = new Date(Date.now() + attachments.uploadMinutes * 60_000);
    const url = await container.getBlobClient(randomUUID()).generateSasUrl({
      permissions: BlobSASPermissions.from({ create: true, write: true }),
      expiresOn,
      protocol: SASProtocol.HttpsAndHttp,
    });
    return reply(res, 201, { id: randomUUID(), upload_url: url, method: "PUT", headers: {}, expires_at: expiresOn.toISOString() });
  }
  if (req.method === "GET" && req.url?.startsWith("/messages/")) {
    const url = await container.getBlobClient(download.blobName).generateSasUrl({
      permissions: BlobSASPermissions.from({ read: true }),
      expiresOn: new Date(Date.now() + attachments.downloadMinutes * 60_000),
      protocol: SASProtocol.HttpsAndHttp,
      contentDisposition: attachmentDisposition(download.filename),
      contentType: servedContentType(download.contentType),
    });
    res.writeHead(302, { Location: url, "Cache-Control": "no-store", "Content-Length": 0 }).end();
    return;
  }
  reply(res, 404, { detail: "Not Found" });
}

serveFloor(handle);
