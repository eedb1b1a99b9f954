/**
 * Requests a `json.webpubsub.azure.v1` client may send. Group operations need the
 * matching role in the client's token, exactly as the service enforces them.
 */
import { deliver, type Connection, type ConnectionRegistry, type Payload } from "./connections";

interface ClientRequest {
  type?: unknown;
  group?: unknown;
  ackId?: unknown;
  dataType?: unknown;
  data?: unknown;
  noEcho?: unknown;
}

function mayDo(connection: Connection, role: "webpubsub.joinLeaveGroup" | "webpubsub.sendToGroup", group: string): boolean {
  return connection.roles.includes(role) || connection.roles.includes(`${role}.${group}`);
}

function ack(connection: Connection, ackId: unknown, error?: { name: string; message: string }): void {
  if (typeof ackId !== "number") return;
  connection.socket.send(JSON.stringify({ type: "ack", ackId, success: !error, ...(error ? { error } : {}) }));
}

function payloadOf(request: ClientRequest): Payload | null {
  switch (request.dataType) {
    case "json":
      return { dataType: "json", data: request.data, text: JSON.stringify(request.data) };
    case "text":
      return typeof request.data === "string" ? { dataType: "text", data: request.data } : null;
    case "binary":
    case "protobuf":
      return typeof request.data === "string" ? { dataType: "binary", data: Buffer.from(request.data, "base64") } : null;
    default:
      return null;
  }
}

export function handleClientFrame(connection: Connection, registry: ConnectionRegistry, raw: string): void {
  let request: ClientRequest;
  try {
    request = JSON.parse(raw) as ClientRequest;
  } catch {
    return; // the service drops frames it cannot parse
  }
  const group = typeof request.group === "string" ? request.group : "";
  const forbidden = (what: string) => ({ name: "Forbidden", message: `The connection has no permission to ${what} group '${group}'.` });
  switch (request.type) {
    case "joinGroup":
    case "leaveGroup":
      if (!group) return ack(connection, request.ackId, { name: "InvalidRequest", message: "group is required" });
      if (!mayDo(connection, "webpubsub.joinLeaveGroup", group)) return ack(connection, request.ackId, forbidden(request.type === "joinGroup" ? "join" : "leave"));
      if (request.type === "joinGroup") connection.groups.add(group);
      else connection.groups.delete(group);
      return ack(connection, request.ackId);
    case "sendToGroup": {
      if (!group) return ack(connection, request.ackId, { name: "InvalidRequest", message: "group is required" });
      if (!mayDo(connection, "webpubsub.sendToGroup", group)) return ack(connection, request.ackId, forbidden("send to"));
      const payload = payloadOf(request);
      if (!payload) return ack(connection, request.ackId, { name: "InvalidRequest", message: "unsupported dataType or data" });
      for (const member of registry.inGroup(connection.hub, group)) {
        if (request.noEcho === true && member.id === connection.id) continue;
        deliver(member, payload, "group", group);
      }
      return ack(connection, request.ackId);
    }
    case "event":
      // No user-event handler is configured for this hub: accepted and dropped.
      return ack(connection, request.ackId);
    default:
      return ack(connection, request.ackId, { name: "InvalidRequest", message: `unknown request type '${String(request.type)}'` });
  }
}
