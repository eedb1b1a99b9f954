/**
 * Azurite's blob service in a process of its own, started by local/azurite/index.ts. It reads
 * its options as JSON from argv, prints `ready <url>` once it listens, and stops when its
 * parent's pipe closes (so a killed test run leaves no storage server behind) or on SIGTERM.
 * Plain CommonJS: it starts without a compiler, and azurite ships no types for these classes.
 */
"use strict";
const { mkdirSync } = require("node:fs");
const path = require("node:path");
const { BlobServiceClient, StorageSharedKeyCredential } = require("@azure/storage-blob");
const BlobServer = require("azurite/dist/src/blob/BlobServer").default;
const BlobConfiguration = require("azurite/dist/src/blob/BlobConfiguration").default;

const options = JSON.parse(process.argv[2] ?? "{}");
const location = options.location ?? null;
const file = (name) => (location ? path.join(location, name) : name);
// Azurite writes its databases into the folder but does not make it (`npm start`'s first run).
if (location) mkdirSync(location, { recursive: true });

const config = new BlobConfiguration(
  options.host,
  options.port,
  undefined,
  file("__azurite_db_blob__.json"),
  file("__azurite_db_blob_extent__.json"),
  [{ locationId: "Default", locationPath: file("__blobstorage__"), maxConcurrency: 10 }],
  false, // access log
  undefined,
  false, // debug log
  undefined,
  false, // loose
  true, // skip the API version check: the SDK may be newer than this azurite
  options.cert ?? "",
  options.key ?? "",
  "",
  options.oauth,
  false,
  location === null, // in memory when no folder is given
);
const server = new BlobServer(config);

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  await server.close().catch(() => {});
  process.exit(code);
}

/**
 * What the template sets up in Azure: the private container, and CORS on the blob service so that
 * a page on an allowed origin can PUT and GET the signed URLs. Done here, where the parent's CA is
 * trusted (NODE_EXTRA_CA_CERTS) when azurite serves HTTPS.
 */
async function prepare(blobEndpoint) {
  const { account, container, origins } = options.prepare;
  const service = new BlobServiceClient(blobEndpoint, new StorageSharedKeyCredential(account.name, account.key));
  await service.getContainerClient(container).createIfNotExists();
  // The second rule is for downloads: the browser follows the API's redirect to storage with the
  // Origin "null" (a cross-origin redirect taints it), which no listed origin can match.
  const cors = origins.length
    ? [
        { allowedOrigins: origins.join(","), allowedMethods: "GET,PUT", allowedHeaders: "*", exposedHeaders: "*", maxAgeInSeconds: 3600 },
        { allowedOrigins: "*", allowedMethods: "GET", allowedHeaders: "range", exposedHeaders: "etag,x-ms-*", maxAgeInSeconds: 3600 },
      ]
    : [];
  await service.setProperties({ cors });
}

server
  .start()
  .then(async () => {
    const address = server.getHttpServerAddress();
    if (options.prepare) await prepare(`${address}/${options.prepare.account.name}`);
    process.stdout.write(`ready ${address}\n`);
  })
  .then(undefined, (error) => {
    process.stderr.write(`azurite could not start: ${error.message}\n`);
    process.exit(1);
  });
process.stdin.on("end", () => void stop(0));
process.stdin.resume();
process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
