/**
 * Requests a `json.webpubsub.azure.v1` or `json.reliable.webpubsub.azure.v1` client may send. Group operations need the matching
 * role in the client's token, as the service enforces them; a frame that does not match the
 * protocol gets the client declined (disconnected), as the service documents.
 */
import { sendFrame, type Connection, type ConnectionRegistry, type Payload } from "./connections";

type Role = "webpubsub.joinLeaveGroup" | "webpubsub.sendToGroup";
type AckError = { name: "Forbidden" | "Duplicate" | "InternalServerError"; message: string };

interface Request {
  type: string;
  ackId?: number;
  sequenceId?: number;
  group?: string;
  noEcho?: boolean;
  dataType?: unknown;
  data?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The request, or a sentence saying why the service would decline it. */
function parseRequest(raw: string): Request | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return "The message is not valid JSON.";
  }
  if (!isObject(parsed) || typeof parsed.type !== "string") return "The message has no request type.";
  const { type, ackId, sequenceId, group, noEcho } = parsed;
  if (ackId !== undefined && !Number.isSafeInteger(ackId)) return "ackId must be an integer.";
  if (type === "sequenceAck" && !(Number.isSafeInteger(sequenceId) && (sequenceId as number) >= 0))
    return "sequenceAck needs a sequenceId that is a whole number.";
  if (group !== undefined && (typeof group !== "string" || group === "")) return "group must be a non-empty string.";
  if ((type === "joinGroup" || type === "leaveGroup" || type === "sendToGroup") && group === undefined) return `${type} needs a group.`;
  return {
    type,
    ackId: ackId as number | undefined,
    sequenceId: sequenceId as number | undefined,
    group: group as string | undefined,
    noEcho: noEcho === true,
    dataType: parsed.dataType,
    data: parsed.data,
  };
}

/** `dataType` defaults to json; text must be a string, binary a base64 string. */
function payloadOf(request: Request): Payload | null {
  switch (request.dataType ?? "json") {
    case "json":
      return { dataType: "json", data: request.data ?? null, text: JSON.stringify(request.data ?? null) };
    case "text":
      return typeof request.data === "string" ? { dataType: "text", data: request.data } : null;
    case "binary":
      return typeof request.data === "string" ? { dataType: "binary", data: Buffer.from(request.data, "base64") } : null;
    default:
      return null;
  }
}

function mayDo(connection: Connection, role: Role, group: string): boolean {
  return connection.roles.includes(role) || connection.roles.includes(`${role}.${group}`);
}

function ack(connection: Connection, ackId: number | undefined, error?: AckError): void {
  if (ackId === undefined) return;
  sendFrame(connection, error ? { type: "ack", ackId, success: false, error } : { type: "ack", ackId, success: true });
}

const forbidden = (what: string, group: string): AckError => ({
  name: "Forbidden",
  message: `The connection has no permission to ${what} group '${group}'.`,
});

export function handleClientFrame(connection: Connection, registry: ConnectionRegistry, raw: string): void {
  const request = parseRequest(raw);
  if (typeof request === "string") return registry.disconnect(connection, `Invalid message: ${request}`, 1008);
  if (request.ackId !== undefined) {
    if (connection.ackIds.has(request.ackId))
      return ack(connection, request.ackId, { name: "Duplicate", message: `ackId ${request.ackId} was already used.` });
    connection.ackIds.add(request.ackId);
  }
  const group = request.group ?? "";
  switch (request.type) {
    case "joinGroup":
    case "leaveGroup": {
      const joining = request.type === "joinGroup";
      if (!mayDo(connection, "webpubsub.joinLeaveGroup", group))
        return ack(connection, request.ackId, forbidden(joining ? "join" : "leave", group));
      if (joining) connection.groups.add(group);
      else connection.groups.delete(group);
      return ack(connection, request.ackId);
    }
    case "sendToGroup": {
      const payload = payloadOf(request);
      if (!payload) return registry.disconnect(connection, "Invalid message: unsupported dataType or data.", 1008);
      if (!mayDo(connection, "webpubsub.sendToGroup", group)) return ack(connection, request.ackId, forbidden("send to", group));
      for (const member of registry.inGroup(connection.hub, group)) {
        if (request.noEcho && member.id === connection.id) continue;
        registry.deliver(member, payload, {
          from: "group",
          group,
          ...(connection.userId !== undefined ? { fromUserId: connection.userId } : {}),
        });
      }
      return ack(connection, request.ackId);
    }
    case "event":
      // Every client may send events; with no user-event handler configured (as in this project's hub) they are dropped.
      if (!payloadOf(request)) return registry.disconnect(connection, "Invalid message: unsupported dataType or data.", 1008);
      return ack(connection, request.ackId);
    case "ping":
      // Newer clients' keep-alive.
      return sendFrame(connection, { type: "pong" });
    case "sequenceAck":
      if (connection.session) return connection.session.ack(request.sequenceId ?? 0);
      return registry.disconnect(connection, "Invalid message: sequenceAck belongs to the reliable subprotocol.", 1008);
    default:
      return registry.disconnect(connection, `Invalid message: unknown request type '${request.type}'.`, 1008);
  }
}
