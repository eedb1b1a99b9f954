/** Posts system events to the hub's event handler as binary-mode CloudEvents. */
import { createHmac, randomUUID } from "node:crypto";
import type { Connection } from "./connections";

const UPSTREAM_TIMEOUT_MS = 5_000;

export type SystemEvent = "connected" | "disconnected";

export interface UpstreamOptions {
  accessKey: string;
  endpoint: string;
  eventHandlerUrl?: (hub: string) => string | undefined;
  log: (line: string) => void;
}

export async function postSystemEvent(options: UpstreamOptions, connection: Connection, event: SystemEvent, body: object): Promise<void> {
  const url = options.eventHandlerUrl?.(connection.hub);
  if (!url) return;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "ce-specversion": "1.0",
    "ce-type": `azure.webpubsub.sys.${event}`,
    "ce-source": `/hubs/${connection.hub}/client/${connection.id}`,
    "ce-id": randomUUID(),
    "ce-time": new Date().toISOString(),
    "ce-signature": `sha256=${createHmac("sha256", options.accessKey).update(connection.id).digest("hex")}`,
    "ce-connectionId": connection.id,
    "ce-hub": connection.hub,
    "ce-eventName": event,
    "ce-awpsversion": "1.0",
    "webhook-request-origin": new URL(options.endpoint).host,
  };
  if (connection.userId !== undefined) headers["ce-userId"] = connection.userId;
  try {
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
    if (!res.ok) options.log(`web pubsub stand-in: ${event} event for ${connection.id} answered ${res.status}`);
    await res.arrayBuffer();
  } catch (error) {
    options.log(`web pubsub stand-in: ${event} event for ${connection.id} failed: ${(error as Error).message}`);
  }
}
