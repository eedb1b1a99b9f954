import { createHmac } from "node:crypto";
import type { HttpRequest } from "@azure/functions";

import type { Config } from "../config/config";
import { connectionStringField } from "../config/connection-string";
import { sameSecret } from "../domain/secrets";

/** The query parameter of the event-handler URL that carries WEBPUBSUB_EVENT_HANDLER_KEY. */
export const EVENT_HANDLER_KEY_PARAM = "key";

/** `sha256=<hex>` values (comma-separated when the service has two keys) over the connection id. */
function signatureMatches(request: HttpRequest, accessKey: string): boolean {
  const connectionId = request.headers.get("ce-connectionid");
  const header = request.headers.get("ce-signature");
  if (!connectionId || !header) return false;
  const expected = `sha256=${createHmac("sha256", accessKey).update(connectionId).digest("hex")}`;
  return header.split(",").some((value) => sameSecret(value.trim(), expected));
}

/**
 * Whether the caller of the events function is our Web PubSub service: it knows the key
 * the hub's event-handler URL carries, or it signed the event with the access key.
 * With neither configured nothing is trusted.
 */
export function isTrustedEventCaller(request: HttpRequest, config: Config): boolean {
  const key = request.query.get(EVENT_HANDLER_KEY_PARAM);
  if (config.eventHandlerKey && key && sameSecret(key, config.eventHandlerKey)) return true;
  const accessKey =
    config.webPubSub.kind === "connectionString" ? connectionStringField(config.webPubSub.connectionString, "AccessKey") : undefined;
  if (!accessKey) return false;
  // The abuse-protection handshake is unsigned; it only learns which origin we accept.
  return request.method === "OPTIONS" || signatureMatches(request, accessKey);
}
