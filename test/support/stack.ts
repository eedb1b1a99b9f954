/**
 * The one way an HTTP test opens the local stack: a database of its own, the host and the
 * Web PubSub stand-in on free ports, opened before the file's (or describe block's) tests and
 * closed after them.
 */
import { afterAll, beforeAll } from "vitest";

import { startLocalStack, type LocalStack, type StackOptions } from "../../local/stack";
import { createMigratedDatabase, type TestDatabase } from "./database";
import type { SocketProbe } from "./sockets";
import { standInOutage, type StandInOutage } from "./webpubsub-outage";

export interface StackSetup {
  /** Settings applied to process.env before the stack starts (the config is read at start). */
  env?: Record<string, string>;
  /** true: azurite's blob service on a free port, in memory (attachments). */
  storage?: boolean;
  /** false: no Web PubSub stand-in (tests of HTTP alone). */
  webPubSub?: boolean;
  log?: StackOptions["log"];
  /** Where the database comes from (a throwaway cluster); by default a fresh test database. */
  database?: () => Promise<Pick<TestDatabase, "url" | "close">>;
}

export interface OpenStack {
  /** The host's base URL, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  readonly stack: LocalStack;
  /** Sockets a test opened: closed after the file's tests, before the stack. */
  readonly probes: SocketProbe[];
  /** Takes the Web PubSub stand-in down and brings a new one up at its address; whichever runs is closed with the stack. */
  readonly outage: StandInOutage;
}

/** Registers the hooks that open and close the stack; read the handle's fields inside tests or later hooks. */
export function useLocalStack(setup: StackSetup = {}): OpenStack {
  let db: Pick<TestDatabase, "url" | "close"> | undefined;
  let stack: LocalStack | undefined;
  beforeAll(async () => {
    if (setup.env) Object.assign(process.env, setup.env);
    db = await (setup.database ?? createMigratedDatabase)();
    stack = await startLocalStack({
      hostPort: 0,
      databaseUrl: db.url,
      ...(setup.webPubSub === false ? { webPubSub: false } : { webPubSubPort: 0 }),
      storage: setup.storage ? { port: 0 } : false,
      log: setup.log,
    });
  });
  // Registered first, so it runs after the file's own afterAll hooks (vitest runs them as a stack).
  const probes: SocketProbe[] = [];
  let outage: StandInOutage | undefined;
  afterAll(async () => {
    await Promise.all(probes.map((p) => p.close()));
    await outage?.stop();
    await stack?.close();
    await db?.close();
  });
  const opened = (): LocalStack => {
    if (!stack) throw new Error("useLocalStack: the stack is open only inside tests and hooks after its own");
    return stack;
  };
  return {
    probes,
    get outage() {
      return (outage ??= standInOutage(opened()));
    },
    get stack() {
      return opened();
    },
    get url() {
      return opened().url as string;
    },
    get port() {
      return Number(new URL(opened().url as string).port);
    },
  };
}
