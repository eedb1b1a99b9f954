/** The open client connections, per hub, with what each may do and how it wants frames. */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

export const JSON_SUBPROTOCOL = "json.webpubsub.azure.v1";

/** What a server send carries, decided by its content type. */
export type Payload = { dataType: "json"; data: unknown; text: string } | { dataType: "text"; data: string } | { dataType: "binary"; data: Buffer };

export interface Connection {
  id: string;
  hub: string;
  userId?: string;
  roles: string[];
  groups: Set<string>;
  subprotocol?: string;
  socket: WebSocket;
}

export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();

  add(init: Omit<Connection, "id" | "groups"> & { groups: string[] }): Connection {
    const connection: Connection = { ...init, id: randomUUID().replace(/-/g, ""), groups: new Set(init.groups) };
    this.byId.set(connection.id, connection);
    return connection;
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  get(hub: string, id: string): Connection | undefined {
    const connection = this.byId.get(id);
    return connection && sameHub(connection.hub, hub) ? connection : undefined;
  }

  inHub(hub: string): Connection[] {
    return [...this.byId.values()].filter((c) => sameHub(c.hub, hub));
  }

  ofUser(hub: string, userId: string): Connection[] {
    return this.inHub(hub).filter((c) => c.userId === userId);
  }

  inGroup(hub: string, group: string): Connection[] {
    return this.inHub(hub).filter((c) => c.groups.has(group));
  }

  all(): Connection[] {
    return [...this.byId.values()];
  }
}

const sameHub = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Delivers as the service does: a plain socket gets the data itself (JSON as its exact
 * text); a `json.webpubsub.azure.v1` socket gets the data wrapped in a message envelope.
 */
export function deliver(connection: Connection, payload: Payload, from: "server" | "group" = "server", group?: string): void {
  if (connection.socket.readyState !== WebSocket.OPEN) return;
  if (connection.subprotocol === JSON_SUBPROTOCOL) {
    const data = payload.dataType === "binary" ? payload.data.toString("base64") : payload.data;
    connection.socket.send(JSON.stringify({ type: "message", from, ...(group ? { group } : {}), dataType: payload.dataType, data }));
    return;
  }
  if (payload.dataType === "binary") connection.socket.send(payload.data, { binary: true });
  else connection.socket.send(payload.dataType === "json" ? payload.text : payload.data);
}
