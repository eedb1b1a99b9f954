/** Posts system events to a hub's event handler as binary-mode CloudEvents, as the service does. */
import { createHmac, randomUUID } from "node:crypto";

import type { Connection } from "./connections";

const UPSTREAM_TIMEOUT_MS = 5_000;

export type SystemEvent = "connected" | "disconnected";

export interface UpstreamOptions {
  accessKey: string;
  /** The host the service says requests come from (`WebHook-Request-Origin`). */
  origin: string;
  eventHandlerUrl?: (hub: string) => string | undefined;
  log: (line: string) => void;
}

export interface Upstream {
  connected(connection: Connection): void;
  disconnected(connection: Connection, reason: string): void;
  /** The abuse-protection handshake with the hub's handler; rejects saying why it failed. */
  validate(hub: string): Promise<void>;
  /** Aborts events in flight and sends no more: nobody is listening once the stand-in stops. */
  close(): void;
}

/** The handler authenticates the service by this: an HMAC of the connection id keyed with the access key. */
export function signature(accessKey: string, connectionId: string): string {
  return `sha256=${createHmac("sha256", accessKey).update(connectionId).digest("hex")}`;
}

/** The handler's URL as it may be logged: without the query, which can carry its key. */
const shown = (url: string) => {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
};

export function createUpstream(options: UpstreamOptions): Upstream {
  const stopping = new AbortController();
  // Per handler URL: null once it allowed our origin, else why not. A failure is asked again at the next event.
  const handshakes = new Map<string, Promise<string | null>>();

  /** OPTIONS with WebHook-Request-Origin; the handler must answer 2xx allowing this origin (or `*`). */
  async function handshake(url: string): Promise<string | null> {
    try {
      const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(UPSTREAM_TIMEOUT_MS)]);
      const res = await fetch(url, { method: "OPTIONS", headers: { "webhook-request-origin": options.origin }, signal });
      await res.arrayBuffer();
      if (!res.ok) return `it answered ${res.status}`;
      const allowed = (res.headers.get("webhook-allowed-origin") ?? "").split(",").map((origin) => origin.trim());
      if (!allowed.includes("*") && !allowed.includes(options.origin)) {
        return `its WebHook-Allowed-Origin (${JSON.stringify(res.headers.get("webhook-allowed-origin"))}) does not allow ${options.origin}`;
      }
      return null;
    } catch (error) {
      return `the request failed: ${(error as Error).message}`;
    }
  }

  function validated(url: string): Promise<string | null> {
    let outcome = handshakes.get(url);
    if (!outcome) {
      outcome = handshake(url);
      handshakes.set(url, outcome);
      void outcome.then((why) => why !== null && handshakes.delete(url));
    }
    return outcome;
  }
  // A connection's `connected` event is still in flight when a quick close sends `disconnected`;
  // chaining keeps the handler from seeing them in the wrong order.
  const pending = new Map<string, Promise<void>>();

  async function post(connection: Connection, event: SystemEvent, body: object): Promise<void> {
    let url: string | undefined;
    try {
      url = options.eventHandlerUrl?.(connection.hub);
    } catch (error) {
      options.log(`web pubsub stand-in: no event handler URL for hub ${connection.hub}: ${(error as Error).message}`);
    }
    if (!url || stopping.signal.aborted) return;
    // As the service does: no events to a handler that has not passed the abuse-protection handshake.
    const refused = await validated(url);
    if (refused !== null) {
      if (!stopping.signal.aborted)
        options.log(
          `web pubsub stand-in: ${event} event for ${connection.id} not sent: ${shown(url)} failed the abuse-protection handshake: ${refused}`,
        );
      return;
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-type": `azure.webpubsub.sys.${event}`,
      "ce-source": `/hubs/${connection.hub}/client/${connection.id}`,
      "ce-id": randomUUID(),
      "ce-time": new Date().toISOString(),
      "ce-signature": signature(options.accessKey, connection.id),
      "ce-connectionId": connection.id,
      "ce-hub": connection.hub,
      "ce-eventName": event,
      "ce-awpsversion": "1.0",
      "webhook-request-origin": options.origin,
      ...(connection.userId !== undefined ? { "ce-userId": connection.userId } : {}),
    };
    try {
      const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(UPSTREAM_TIMEOUT_MS)]);
      const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal });
      await res.arrayBuffer();
      if (!res.ok) options.log(`web pubsub stand-in: ${event} event for ${connection.id} answered ${res.status}`);
    } catch (error) {
      if (!stopping.signal.aborted)
        options.log(`web pubsub stand-in: ${event} event for ${connection.id} failed: ${(error as Error).message}`);
    }
  }

  return {
    connected(connection) {
      pending.set(connection.id, post(connection, "connected", {}));
    },
    disconnected(connection, reason) {
      const before = pending.get(connection.id) ?? Promise.resolve();
      pending.delete(connection.id);
      void before.then(() => post(connection, "disconnected", { reason }));
    },
    async validate(hub) {
      const url = options.eventHandlerUrl?.(hub);
      if (!url) throw new Error(`no event handler is configured for hub ${hub}`);
      const refused = await validated(url);
      if (refused !== null) throw new Error(`the event handler ${shown(url)} failed Web PubSub's abuse-protection handshake: ${refused}`);
    },
    close() {
      stopping.abort();
      pending.clear();
    },
  };
}
