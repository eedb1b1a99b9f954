/**
 * Everything the app reaches in Azure, on this machine: the managed identity endpoint, a
 * PostgreSQL sign-in that takes only the identity's Entra token (over verified TLS, in front
 * of a real server), and the Web PubSub stand-in in Entra mode (HTTPS/WSS, bearer tokens,
 * `:generateToken`), and azurite's blob service over HTTPS taking only bearer tokens for Get User
 * Delegation Key (`--oauth basic`: it checks a token's issuer, audience and lifetime, not its
 * signature). `appSettings()` are the settings Azure gives the app, pointed here.
 */
import { randomBytes, randomUUID } from "node:crypto";

import { DEFAULT_CONTAINER } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { withClient } from "../../shared/data/db";
import { startAzurite, type Azurite } from "../azurite";
import { Issuer, RESOURCES, startIdentityEndpoint, type IdentityEndpoint } from "../identity";
import { startWebPubSubStandIn, type WebPubSubStandIn } from "../webpubsub";
import { createLocalCertificates, type LocalCertificates } from "./certificates";
import { startPostgresProxy, type PostgresProxy } from "./postgres-proxy";

export const EVENTS_PATH = "/webpubsub/events";

export interface AzureIdentityStackOptions {
  /** URL of a PostgreSQL server as an administrator, e.g. TEST_DATABASE_URL. */
  adminUrl: string;
  /** Role (the identity's name) and database; by default fresh ones, dropped on close. */
  names?: { role: string; database: string; keep: boolean };
  hub?: string;
  /** The app's base URL, once known, for the stand-in's CloudEvents. */
  appUrl?: () => string | undefined;
  log?: (line: string) => void;
}

export interface AzureIdentityStack {
  readonly identity: IdentityEndpoint;
  readonly webPubSub: WebPubSubStandIn;
  readonly postgres: PostgresProxy;
  readonly storage: Azurite;
  readonly certificates: LocalCertificates;
  readonly role: string;
  readonly database: string;
  readonly eventHandlerKey: string;
  /** The app settings Azure gives the app, plus the platform's IDENTITY_* and the CA it trusts. */
  appSettings(): Record<string, string>;
  close(): Promise<void>;
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** The identity's role owns its database, as the app's identity (the Entra administrator) does in Azure. */
async function createRoleAndDatabase(adminUrl: string, role: string, database: string): Promise<void> {
  await withClient(adminUrl, async (admin) => {
    const roleExists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
    if (!roleExists.rowCount) await admin.query(`CREATE ROLE ${quote(role)} LOGIN`);
    const dbExists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!dbExists.rowCount) await admin.query(`CREATE DATABASE ${quote(database)} OWNER ${quote(role)}`);
  });
}

async function dropRoleAndDatabase(adminUrl: string, role: string, database: string): Promise<void> {
  await withClient(adminUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${quote(database)} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${quote(role)}`);
  });
}

export async function startAzureIdentityStack(options: AzureIdentityStackOptions): Promise<AzureIdentityStack> {
  const log = options.log ?? (() => {});
  const suffix = randomBytes(4).toString("hex");
  const names = options.names ?? { role: `id-realtime-mail-${suffix}`, database: `mail_identity_${suffix}`, keep: false };
  const hub = options.hub ?? "notifications";
  const eventHandlerKey = randomBytes(24).toString("base64url");
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: Error) => log(`azure identity stack: ${error.message}`));
  };
  try {
    const certificates = await createLocalCertificates();
    closers.push(() => certificates.remove());
    const identity = await startIdentityEndpoint({ issuer: new Issuer(randomUUID()) });
    closers.push(() => identity.close());
    const { clientId } = identity.issuer;

    const admin = new URL(options.adminUrl);
    await createRoleAndDatabase(options.adminUrl, names.role, names.database);
    if (!names.keep) closers.push(() => dropRoleAndDatabase(options.adminUrl, names.role, names.database));

    const postgresVerifier = identity.issuer.verifierFor(RESOURCES.postgres);
    const postgres = await startPostgresProxy({
      tls: certificates,
      upstream: { host: admin.hostname, port: Number(admin.port || 5432) },
      verify: (role, token) => {
        const verdict = postgresVerifier(token);
        if (!verdict.ok) return verdict;
        return role === names.role && verdict.clientId === clientId
          ? { ok: true }
          : { ok: false, reason: `the token's identity ${verdict.clientId} is not the role ${role}` };
      },
      log,
    });
    closers.push(() => postgres.close());

    const webPubSubVerifier = identity.issuer.verifierFor(RESOURCES.webPubSub);
    const webPubSub = await startWebPubSubStandIn({
      port: 0,
      // The service's own signing key for client tokens; the app never sees it.
      accessKey: randomBytes(32).toString("base64"),
      tls: certificates,
      // The identity holds the Web PubSub Service Owner role; nobody else does.
      acceptBearer: (token) => {
        const verdict = webPubSubVerifier(token);
        return verdict.ok && verdict.clientId === clientId;
      },
      eventHandlerUrl: () => {
        const app = options.appUrl?.();
        return app ? `${app}${EVENTS_PATH}?key=${encodeURIComponent(eventHandlerKey)}` : undefined;
      },
      log,
    });
    closers.push(() => webPubSub.close());

    const storage = await startAzurite({
      port: 0,
      tls: { cert: certificates.cert, key: certificates.key, caFile: certificates.caFile },
      container: DEFAULT_CONTAINER,
      corsOrigins: [],
      log,
    });
    closers.push(() => storage.close());

    return {
      identity,
      webPubSub,
      postgres,
      storage,
      certificates,
      role: names.role,
      database: names.database,
      eventHandlerKey,
      appSettings: () => ({
        [SETTINGS.secretKey]: randomBytes(36).toString("base64url"),
        [SETTINGS.postgresHost]: postgres.host,
        [SETTINGS.postgresPort]: String(postgres.port),
        [SETTINGS.postgresDatabase]: names.database,
        [SETTINGS.postgresUser]: names.role,
        [SETTINGS.postgresSsl]: "true",
        [SETTINGS.dbMigrateOnStart]: "true",
        [SETTINGS.dbPoolMax]: "1",
        [SETTINGS.azureClientId]: clientId,
        [SETTINGS.webPubSubEndpoint]: webPubSub.endpoint,
        [SETTINGS.webPubSubHub]: hub,
        [SETTINGS.webPubSubEventHandlerKey]: eventHandlerKey,
        [SETTINGS.attachmentBlobEndpoint]: storage.blobEndpoint,
        [SETTINGS.attachmentContainer]: DEFAULT_CONTAINER,
        IDENTITY_ENDPOINT: identity.url,
        IDENTITY_HEADER: identity.header,
        NODE_EXTRA_CA_CERTS: certificates.caFile,
      }),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
