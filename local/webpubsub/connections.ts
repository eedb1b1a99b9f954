/** The open client connections, per hub, with what each may do and how it wants its frames. */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

import { RELIABLE_SUBPROTOCOL, ReliableSession, type ReliableLimits } from "./reliable";

export const JSON_SUBPROTOCOL = "json.webpubsub.azure.v1";
/** The subprotocols the stand-in speaks, in the order it prefers them. */
export const SUBPROTOCOLS = [RELIABLE_SUBPROTOCOL, JSON_SUBPROTOCOL];

/** The service's rule for hub names. */
export const HUB_NAME = /^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$/;

/** What a send carries; its content type (REST) or `dataType` (client request) decides which. */
export type Payload =
  { dataType: "json"; data: unknown; text: string } | { dataType: "text"; data: string } | { dataType: "binary"; data: Buffer };

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
  /** The current socket: a reliable session gets a new one each time its client reconnects. */
  socket: WebSocket;
  /** Ack ids already answered: the service acks a repeated one as `Duplicate`, across reconnections too. */
  readonly ackIds: Set<number>;
  /** Only on the reliable subprotocol. */
  readonly session?: ReliableSession;
  /** REST sends on their way to this connection, in the order they were accepted. */
  delivery: Promise<void>;
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

export type EndListener = (connection: Connection, reason: string) => void;

/**
 * A connection lives from its handshake until it ends: its socket closes (plain and
 * `json.webpubsub.azure.v1`), or, on the reliable subprotocol, the service closes it, its
 * unacked messages pass the bound, or its client does not come back within the retention.
 */
export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();
  private readonly endListeners: EndListener[] = [];

  constructor(
    private readonly reliable: ReliableLimits,
    /** The longest a REST send waits before it reaches a connection (each waits a random part of it). */
    private readonly deliveryJitterMs = 0,
  ) {}

  add(init: NewConnection): Connection {
    const session = init.subprotocol === RELIABLE_SUBPROTOCOL ? new ReliableSession(this.reliable) : undefined;
    const connection: Connection = {
      ...init,
      id: randomUUID().replace(/-/g, ""),
      groups: new Set(init.groups),
      ackIds: new Set(),
      session,
      delivery: Promise.resolve(),
    };
    this.byId.set(connection.id, connection);
    return connection;
  }

  has(connection: Connection): boolean {
    return this.byId.get(connection.id) === connection;
  }

  onEnd(listener: EndListener): void {
    this.endListeners.push(listener);
  }

  /** Forgets the connection and reports it once; later calls for it do nothing. */
  end(connection: Connection, reason: string): void {
    if (!this.has(connection)) return;
    this.byId.delete(connection.id);
    connection.session?.resume();
    for (const listener of this.endListeners) listener(connection, reason);
  }

  /** Closes a connection from the service side, telling a subprotocol client why first; it cannot be resumed. */
  disconnect(connection: Connection, reason: string, code = 1000): void {
    sendFrame(connection, { type: "system", event: "disconnected", message: reason });
    this.end(connection, reason);
    connection.socket.close(code, fitCloseReason(reason));
  }

  /**
   * Delivers as the service does: a plain socket gets the data itself (JSON as its exact
   * text, binary as a binary frame); a subprotocol socket gets it wrapped in a message
   * envelope, binary as base64, numbered on the reliable one. Returns whether the message
   * reached the socket or, for a reliable session whose socket dropped, its buffer.
   */
  deliver(connection: Connection, payload: Payload, origin: Origin = { from: "server" }): boolean {
    if (!connection.subprotocol) return sendPlain(connection.socket, payload);
    const data = payload.dataType === "binary" ? payload.data.toString("base64") : payload.data;
    const envelope = { type: "message", ...origin, dataType: payload.dataType, data };
    if (!connection.session) return sendText(connection.socket, JSON.stringify(envelope));
    const numbered = connection.session.number(envelope);
    if (numbered === null) {
      this.disconnect(connection, "The connection has too many unacknowledged messages.", 1008);
      return false;
    }
    sendText(connection.socket, numbered);
    return true;
  }

  /**
   * Delivers a REST send after the call has been answered, as the service does: asynchronously,
   * each connection after a random wait of its own of at most `deliveryJitterMs` from acceptance,
   * so order across connections is not kept; a connection gets its sends in the order they were
   * accepted. One that ends meanwhile gets nothing.
   */
  deliverLater(connection: Connection, payload: Payload): void {
    const wait = Math.random() * this.deliveryJitterMs;
    // The wait runs from acceptance, alongside the waits of the sends before it: waited one after
    // another, they would add up, and the last of a burst would come long after the longest wait.
    const waited = new Promise<void>((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
    connection.delivery = Promise.all([connection.delivery, waited]).then(() => {
      if (this.has(connection)) this.deliver(connection, payload);
    });
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

/** Sends a protocol frame (ack, system) to a subprotocol socket; plain sockets never see them. */
export function sendFrame(connection: Connection, frame: object): void {
  if (connection.subprotocol) sendText(connection.socket, JSON.stringify(frame));
}

function sendPlain(socket: WebSocket, payload: Payload): boolean {
  if (socket.readyState !== WebSocket.OPEN) return false;
  if (payload.dataType === "binary") socket.send(payload.data, { binary: true });
  else socket.send(payload.dataType === "json" ? payload.text : payload.data);
  return true;
}

function sendText(socket: WebSocket, text: string): boolean {
  if (socket.readyState !== WebSocket.OPEN) return false;
  socket.send(text);
  return true;
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
