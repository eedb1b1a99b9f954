/** The open client connections, per hub, with what each may do and how it wants its frames. */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

export const JSON_SUBPROTOCOL = "json.webpubsub.azure.v1";

/** The service's rule for hub names. */
export const HUB_NAME = /^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$/;

/** What a send carries; its content type (REST) or `dataType` (client request) decides which. */
export type Payload = { dataType: "json"; data: unknown; text: string } | { dataType: "text"; data: string } | { dataType: "binary"; data: Buffer };

/** Where a message came from, as a `json.webpubsub.azure.v1` envelope reports it. */
export type Origin = { from: "server" } | { from: "group"; group: string; fromUserId?: string };

export interface Connection {
  readonly id: string;
  readonly hub: string;
  readonly userId?: string;
  readonly roles: readonly string[];
  readonly groups: Set<string>;
  /** The subprotocol the handshake settled on, if any. */
  readonly subprotocol?: string;
  readonly socket: WebSocket;
  /** Ack ids already answered: the service acks a repeated one as `Duplicate`. */
  readonly ackIds: Set<number>;
}

export interface NewConnection {
  hub: string;
  userId?: string;
  roles: string[];
  groups: string[];
  subprotocol?: string;
  socket: WebSocket;
}

// The service treats hub names case-insensitively.
const hubKey = (hub: string) => hub.toLowerCase();

export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();

  add(init: NewConnection): Connection {
    const connection: Connection = { ...init, id: randomUUID().replace(/-/g, ""), groups: new Set(init.groups), ackIds: new Set() };
    this.byId.set(connection.id, connection);
    return connection;
  }

  remove(id: string): void {
    this.byId.delete(id);
  }

  get(hub: string, id: string): Connection | undefined {
    const connection = this.byId.get(id);
    return connection && hubKey(connection.hub) === hubKey(hub) ? connection : undefined;
  }

  inHub(hub: string): Connection[] {
    return this.all().filter((c) => hubKey(c.hub) === hubKey(hub));
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

const isPubSub = (connection: Connection) => connection.subprotocol === JSON_SUBPROTOCOL;

/** Sends a protocol frame (ack, system) to a `json.webpubsub.azure.v1` socket; plain sockets never see them. */
export function sendFrame(connection: Connection, frame: object): void {
  if (isPubSub(connection) && connection.socket.readyState === WebSocket.OPEN) connection.socket.send(JSON.stringify(frame));
}

/**
 * Delivers as the service does: a plain socket gets the data itself (JSON as its exact
 * text, binary as a binary frame); a `json.webpubsub.azure.v1` socket gets it wrapped in a
 * message envelope, binary as base64. Returns whether the socket was open to take it.
 */
export function deliver(connection: Connection, payload: Payload, origin: Origin = { from: "server" }): boolean {
  if (connection.socket.readyState !== WebSocket.OPEN) return false;
  if (isPubSub(connection)) {
    const data = payload.dataType === "binary" ? payload.data.toString("base64") : payload.data;
    connection.socket.send(JSON.stringify({ type: "message", ...origin, dataType: payload.dataType, data }));
  } else if (payload.dataType === "binary") {
    connection.socket.send(payload.data, { binary: true });
  } else {
    connection.socket.send(payload.dataType === "json" ? payload.text : payload.data);
  }
  return true;
}

/** Closes a connection from the service side, telling a `json.webpubsub.azure.v1` client why first. */
export function disconnect(connection: Connection, reason: string, code = 1000): void {
  sendFrame(connection, { type: "system", event: "disconnected", message: reason });
  connection.socket.close(code, fitCloseReason(reason));
}

/** A close frame's reason may hold at most 123 bytes of UTF-8 (RFC 6455), or `ws` throws. */
function fitCloseReason(reason: string): string {
  let fitted = reason;
  while (Buffer.byteLength(fitted) > 123) fitted = fitted.slice(0, -1);
  return fitted;
}

export function jsonPayload(data: unknown): Payload {
  // `undefined` has no JSON text; null is the nearest thing a JSON send can carry.
  return { dataType: "json", data: data ?? null, text: JSON.stringify(data) ?? "null" };
}
