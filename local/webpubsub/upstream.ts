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
  /** Aborts events in flight and sends no more: nobody is listening once the stand-in stops. */
  close(): void;
}

/** The handler authenticates the service by this: an HMAC of the connection id keyed with the access key. */
export function signature(accessKey: string, connectionId: string): string {
  return `sha256=${createHmac("sha256", accessKey).update(connectionId).digest("hex")}`;
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const stopping = new AbortController();
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
    close() {
      stopping.abort();
      pending.clear();
    },
  };
}
