/**
 * The zero-install local stack: embedded PostgreSQL (unless a database URL is given), the
 * Web PubSub stand-in, migrations, and the local Functions host serving every function (and
 * running the timer functions on their schedules).
 */
import path from "node:path";

import { DEFAULT_CONTAINER, getConfig, parseDatabaseConfig, resetConfig } from "../shared/config/config";
import { connectionStringField } from "../shared/config/connection-string";
import { SETTINGS } from "../shared/config/settings";
import { closePool, getPool } from "../shared/data/db";
import { migrate } from "../shared/data/migrate";
import { resetRealtimeClient } from "../shared/realtime/realtime";
import { resetBlobStore } from "../shared/storage/blob-store";
import { localAzuriteEndpoint, startAzurite, type Azurite } from "./azurite";
import { parseCors } from "./cors";
import { startEmbeddedDatabase, type EmbeddedDatabase } from "./database";
import { startHost, type RunningHost } from "./host";
import { loadFunctions } from "./load-functions";
import { choosePort, type PortWish } from "./ports";
import { applyValues, readHostJson, readLocalSettings } from "./settings";
import { startTimers, type RunningTimers } from "./timers";
import { startWebPubSubStandIn, type WebPubSubStandIn } from "./webpubsub";

export const ROOT = path.resolve(__dirname, "..");
const DEFAULT_HOST_PORT = 7071;
const EVENTS_PATH = "/webpubsub/events";

export interface StackOptions {
  /** Port of the local Functions host; 0 picks a free one; null starts no host (for `func start`). */
  hostPort?: number | null;
  /** Use this PostgreSQL instead of the embedded one. */
  databaseUrl?: string;
  /** Embedded database: a folder to persist to (undefined = throwaway) and a port (0 = free). */
  embedded?: { dataDir?: string; port?: number };
  /** Stand-in port; 0 picks a free one; defaults to the port in the settings' connection string. */
  webPubSubPort?: number;
  /**
   * true: the database, the stand-in and azurite listen on the ports the settings name or the start
   * fails (`func start` reads those addresses). false (default): a settings port that is taken
   * gives way to a free one, so a second stack starts beside the first.
   */
  exactPorts?: boolean;
  /** false: no stand-in (realtime goes wherever the settings point, or nowhere). */
  webPubSub?: boolean;
  /**
   * Azurite's blob service, when the attachment settings point at this machine: its port (0 = free;
   * defaults to the connection string's) and a folder to persist to (in memory when absent). Absent
   * or false: none (attachment routes then answer 503).
   */
  storage?: false | { port?: number; dataDir?: string };
  /** Origins allowed by CORS besides the settings' `Host.CORS` (a page served on a port picked at run time). */
  corsOrigins?: string[];
  log?: (line: string) => void;
}

export interface LocalStack {
  url: string | null;
  databaseUrl: string;
  webPubSub: WebPubSubStandIn | null;
  /** Azurite's blob service, when the attachment settings point at this machine. */
  storage: Azurite | null;
  /** The timer functions, run on their schedules while the host serves. */
  timers: RunningTimers | null;
  close(): Promise<void>;
}

interface ConnectionTarget {
  host: string;
  port: number;
  accessKey: string;
}

/** The stand-in's address when the connection string points at this machine over http. */
function localWebPubSubTarget(connectionString: string | undefined): ConnectionTarget | null {
  if (!connectionString) return null;
  const field = (name: string) => connectionStringField(connectionString, name);
  const endpoint = field("Endpoint");
  const accessKey = field("AccessKey");
  if (!endpoint || !accessKey) return null;
  const url = new URL(endpoint);
  if (url.protocol !== "http:" || !["127.0.0.1", "localhost"].includes(url.hostname)) return null;
  return { host: "127.0.0.1", port: Number(field("Port") ?? (url.port || 80)), accessKey };
}

function portOf(databaseUrl: string | undefined): number | undefined {
  if (!databaseUrl) return undefined;
  const port = new URL(databaseUrl).port;
  return port ? Number(port) : undefined;
}

export async function startLocalStack(options: StackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const settings = readLocalSettings(ROOT);
  const { routePrefix } = readHostJson(ROOT);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };

  const wish = (port: number | undefined): PortWish =>
    port === undefined || port === 0 ? "any" : options.exactPorts ? { exactly: port } : { preferably: port };

  try {
    let database: EmbeddedDatabase | null = null;
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      database = await startEmbeddedDatabase({
        dataDir: options.embedded?.dataDir,
        port: await choosePort("the embedded database", wish(options.embedded?.port ?? portOf(settings.Values[SETTINGS.databaseUrl]))),
      });
      closers.push(() => database!.close());
      databaseUrl = database.url;
    }
    process.env[SETTINGS.databaseUrl] = databaseUrl;

    let hostPort = options.hostPort === undefined ? (settings.Host.LocalHttpPort ?? DEFAULT_HOST_PORT) : options.hostPort;
    let webPubSub: WebPubSubStandIn | null = null;
    const target =
      options.webPubSub === false
        ? null
        : localWebPubSubTarget(process.env[SETTINGS.webPubSubConnectionString] ?? settings.Values[SETTINGS.webPubSubConnectionString]);
    if (target) {
      webPubSub = await startWebPubSubStandIn({
        host: target.host,
        port: await choosePort("the Web PubSub stand-in", wish(options.webPubSubPort ?? target.port)),
        accessKey: target.accessKey,
        eventHandlerUrl: () => {
          const key = process.env[SETTINGS.webPubSubEventHandlerKey];
          return `http://127.0.0.1:${hostPort ?? DEFAULT_HOST_PORT}${EVENTS_PATH}${key ? `?key=${encodeURIComponent(key)}` : ""}`;
        },
        log,
      });
      closers.push(() => webPubSub!.close());
      process.env[SETTINGS.webPubSubConnectionString] = webPubSub.connectionString;
    }

    const cors = parseCors([settings.Host.CORS, ...(options.corsOrigins ?? [])].filter(Boolean).join(","), settings.Host.CORSCredentials);
    let storage: Azurite | null = null;
    const value = (name: string): string | undefined => process.env[name] ?? settings.Values[name];
    const storageOptions = options.storage || null;
    const blobTarget = storageOptions && localAzuriteEndpoint(value(SETTINGS.attachmentStorageConnectionString));
    if (storageOptions && blobTarget) {
      storage = await startAzurite({
        port: await choosePort("azurite's blob service", wish(storageOptions.port ?? Number(blobTarget.port || 80))),
        location: storageOptions.dataDir,
        container: value(SETTINGS.attachmentContainer) || DEFAULT_CONTAINER,
        corsOrigins: cors.origins,
        log,
      });
      closers.push(() => storage!.close());
      process.env[SETTINGS.attachmentStorageConnectionString] = storage.connectionString;
    }

    applyValues(settings.Values);
    // A second stack in the same process (tests) must not reuse the first one's settings.
    resetConfig();
    resetRealtimeClient();
    resetBlobStore();

    // Migrations first, as `func start` users do with `npm run migrate`.
    await migrate(getPool(parseDatabaseConfig(process.env)));
    closers.push(closePool);

    let host: RunningHost | null = null;
    let timers: RunningTimers | null = null;
    if (hostPort !== null) {
      const functions = await loadFunctions(path.join(ROOT, "functions"));
      host = await startHost({
        functions,
        routePrefix,
        cors,
        port: hostPort,
        log,
      });
      hostPort = host.port;
      closers.push(() => host!.close());
      timers = startTimers(functions, log);
      closers.push(async () => timers!.stop());
      // Web PubSub sends no events to a handler until it passes this handshake: refuse to start without it.
      if (webPubSub) await webPubSub.validateEventHandler(getConfig().hub);
    }
    return { url: host?.url ?? null, databaseUrl, webPubSub, storage, timers, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
