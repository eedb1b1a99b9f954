/**
 * The attachments container in Blob Storage, through @azure/storage-blob (no hand-written
 * signing). Files never pass through the app: it signs a URL for one blob and reads the blob's
 * properties. In Azure the URLs are user-delegation SAS, signed with a key the app's managed
 * identity asks for (the account's shared keys stay off); with an account-key connection string
 * (azurite under `npm start`) they are service SAS. That choice is the only difference.
 *
 * Every call is bounded (ATTACHMENT_STORAGE_TIMEOUT_MS a try, one retry); an unreachable or
 * failing service becomes a StorageUnavailableError, which the HTTP layer answers with 503.
 */
import { randomUUID } from "node:crypto";
// The types of the build that import() loads below.
import type {
  BlobSASPermissions,
  BlobServiceClient,
  ContainerClient,
  StoragePipelineOptions,
  UserDelegationKey,
} from "@azure/storage-blob" with { "resolution-mode": "import" };

import { getConfig, type AttachmentSettings } from "../config/config";
import { azureCredential } from "../config/identity";
import { StorageUnavailableError } from "./errors";
import { attachmentDisposition, servedContentType } from "./rules";

/** The blob index tag Defender for Storage writes when it has scanned a blob, and its two verdicts. */
export const SCAN_RESULT_TAG = "Malware Scanning scan result";
export const SCAN_CLEAN = "No threats found";
export const SCAN_MALICIOUS = "Malicious";

export type ScanVerdict = "clean" | "malicious" | "pending";

/** A blob taken for a message: leased, so the upload URL (still valid for minutes) can no longer replace it. */
export type Claim = { kind: "claimed"; size: number; leaseId: string } | { kind: "missing" } | { kind: "leased" };

export interface BlobStore {
  /** A URL that can create and write this one blob until `expiresOn`, and do nothing else. */
  uploadUrl(blobName: string, expiresOn: Date): Promise<string>;
  /** A read-only URL for this one blob whose answer is forced to download under `filename`. */
  downloadUrl(blobName: string, file: { filename: string; contentType: string }, expiresOn: Date): Promise<string>;
  claim(blobName: string): Promise<Claim>;
  release(blobName: string, leaseId: string): Promise<void>;
  scanVerdict(blobName: string): Promise<ScanVerdict>;
  /** Deletes the blob (breaking a message's lease); a blob already gone is fine. */
  delete(blobName: string): Promise<void>;
}

interface SasOptions {
  permissions: BlobSASPermissions;
  expiresOn: Date;
  contentDisposition?: string;
  contentType?: string;
}

/**
 * The SAS version signed: the newest azurite (the local and test stand-in) verifies. The SDK's
 * own default is newer and adds fields to the string to sign of a user-delegation SAS, which
 * azurite then refuses; Azure accepts this version as well.
 */
const SAS_VERSION = "2025-07-05";

// A delegation key is asked for once and signs URLs until an hour before it ends.
const DELEGATION_KEY_HOURS = 6;
const DELEGATION_KEY_MARGIN_MS = 60 * 60 * 1000;

const statusOf = (error: unknown): number | undefined => (error as { statusCode?: number } | null)?.statusCode;

/** Runs one storage call; any failure other than the answers the caller expects becomes a 503. */
async function call<T>(what: string, work: () => Promise<T>, expected: readonly number[] = []): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const status = statusOf(error);
    if (status !== undefined && expected.includes(status)) throw error;
    const reason = status ? `status ${status}` : (error as Error).message;
    throw new StorageUnavailableError(`Blob Storage failed to ${what}: ${reason}`, { cause: error });
  }
}

type StorageSdk = typeof import("@azure/storage-blob", { with: { "resolution-mode": "import" } });

async function serviceClient(sdk: StorageSdk, settings: AttachmentSettings, clientId: string | undefined): Promise<BlobServiceClient> {
  const { BlobServiceClient } = sdk;
  const options: StoragePipelineOptions = {
    retryOptions: { maxTries: 2, tryTimeoutInMs: settings.timeoutMs, retryDelayInMs: 100, maxRetryDelayInMs: 500 },
  };
  switch (settings.storage.kind) {
    case "connectionString":
      return BlobServiceClient.fromConnectionString(settings.storage.connectionString, options);
    case "identity":
      return new BlobServiceClient(settings.storage.endpoint, await azureCredential(clientId), options);
    case "none":
      throw new StorageUnavailableError("Attachment storage is not configured");
  }
}

export async function createBlobStore(settings: AttachmentSettings, clientId: string | undefined): Promise<BlobStore> {
  // Loaded at the first use, like the identity library: a process without attachments never pays for it.
  const sdk = await import("@azure/storage-blob");
  const { BlobSASPermissions, SASProtocol, StorageSharedKeyCredential, generateBlobSASQueryParameters } = sdk;
  const service = await serviceClient(sdk, settings, clientId);
  const createAndWrite = BlobSASPermissions.from({ create: true, write: true });
  const readOnly = BlobSASPermissions.from({ read: true });
  const container: ContainerClient = service.getContainerClient(settings.container);
  const byIdentity = settings.storage.kind === "identity";
  const sharedKey = () => {
    if (service.credential instanceof StorageSharedKeyCredential) return service.credential;
    throw new StorageUnavailableError("Blob Storage can sign only with an account key or a managed identity");
  };
  // Azure's endpoints are HTTPS; azurite under `npm start` is plain HTTP.
  const protocol = new URL(service.url).protocol === "https:" ? SASProtocol.Https : SASProtocol.HttpsAndHttp;

  let key: UserDelegationKey | undefined;
  let asking: Promise<UserDelegationKey> | undefined;
  const delegationKey = async (until: Date): Promise<UserDelegationKey> => {
    if (key && key.signedExpiresOn.getTime() - DELEGATION_KEY_MARGIN_MS > until.getTime()) return key;
    asking ??= call("issue a user delegation key", () => {
      const now = Date.now();
      // A start a little in the past tolerates a storage clock slightly behind ours.
      return service.getUserDelegationKey(new Date(now - 5 * 60_000), new Date(now + DELEGATION_KEY_HOURS * 3_600_000));
    }).finally(() => (asking = undefined));
    key = await asking;
    return key;
  };

  // Signed from the container's own values: a BlobClient made for each URL (its pipeline, its
  // parsed URL) would cost more than the signature. Our blob names are base64url, which the
  // path takes as it is; encodeURIComponent keeps any other name to one path segment.
  const sign = async (blobName: string, options: SasOptions): Promise<string> => {
    const values = { ...options, protocol, version: SAS_VERSION, containerName: container.containerName, blobName };
    const query = byIdentity
      ? generateBlobSASQueryParameters(values, await delegationKey(options.expiresOn), container.accountName)
      : generateBlobSASQueryParameters(values, sharedKey());
    return `${container.url}/${encodeURIComponent(blobName)}?${query.toString()}`;
  };

  return {
    uploadUrl: (blobName, expiresOn) => sign(blobName, { permissions: createAndWrite, expiresOn }),

    downloadUrl: (blobName, file, expiresOn) =>
      sign(blobName, {
        permissions: readOnly,
        expiresOn,
        contentDisposition: attachmentDisposition(file.filename),
        contentType: servedContentType(file.contentType),
      }),

    async claim(blobName) {
      const blob = container.getBlobClient(blobName);
      const leaseId = randomUUID();
      try {
        await call("lease a blob", () => blob.getBlobLeaseClient(leaseId).acquireLease(-1), [404, 409]);
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return { kind: "missing" };
        if (status === 409) return { kind: "leased" };
        throw error;
      }
      const properties = await call("read a blob's properties", () => blob.getProperties());
      return { kind: "claimed", size: properties.contentLength ?? 0, leaseId };
    },

    async release(blobName, leaseId) {
      await call("release a lease", () => container.getBlobClient(blobName).getBlobLeaseClient(leaseId).releaseLease(), [404, 409]).catch(
        (error: unknown) => {
          if (statusOf(error) === undefined) throw error;
        },
      );
    },

    async scanVerdict(blobName) {
      const { tags } = await call("read a blob's tags", () => container.getBlobClient(blobName).getTags());
      const result = tags[SCAN_RESULT_TAG];
      return result === SCAN_CLEAN ? "clean" : result === SCAN_MALICIOUS ? "malicious" : "pending";
    },

    async delete(blobName) {
      const blob = container.getBlobClient(blobName);
      try {
        await call("delete a blob", () => blob.deleteIfExists({ deleteSnapshots: "include" }), [412]);
      } catch {
        // Leased by a message: the lease only guards against the upload URL, so break it and delete.
        await call("break a lease", () => blob.getBlobLeaseClient().breakLease(0), [404, 409]).catch(() => {});
        await call("delete a blob", () => blob.deleteIfExists({ deleteSnapshots: "include" }));
      }
    },
  };
}

let store: Promise<BlobStore> | undefined;

/** This instance's store, built from the configuration once. */
export function getBlobStore(): Promise<BlobStore> {
  if (!store) {
    const config = getConfig();
    store = createBlobStore(config.attachments, config.azureClientId);
    // A store that could not be built (not configured) is tried again on the next request.
    store.catch(() => (store = undefined));
  }
  return store;
}

/** For tests and the local host, which change the settings between runs. */
export function resetBlobStore(): void {
  store = undefined;
}
