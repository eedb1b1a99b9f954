/**
 * `POST /api/hubs/{hub}/:generateToken`: what the SDK calls for a client URL when it holds an
 * Entra credential instead of the access key. The service signs the client token with its
 * own key, so the token is the same one the SDK would have signed locally.
 */
import jwt from "jsonwebtoken";

export const GENERATE_TOKEN_PATH = "/api/hubs/{hub}/:generateToken";

export type TokenAnswer = { status: 200; body: { token: string } } | { status: 400; body: { code: string; message: string } };

const invalid = (message: string): TokenAnswer => ({ status: 400, body: { code: "InvalidArgument", message } });

/** `clientEndpoint` is the service's own https endpoint: the audience is `{endpoint}/client/hubs/{hub}`. */
export function generateClientToken(accessKey: string, clientEndpoint: string, hub: string, query: URLSearchParams): TokenAnswer {
  const minutesText = query.get("minutesToExpire") ?? "60";
  const minutes = Number(minutesText);
  if (!/^\d+$/.test(minutesText) || minutes < 1) return invalid("minutesToExpire must be a whole number of at least 1.");
  const clientType = query.get("clientType") ?? "Default";
  if (clientType !== "Default") return invalid(`The local stand-in serves only the Default client type, not '${clientType}'.`);
  const roles = query.getAll("role");
  const groups = query.getAll("group");
  const userId = query.get("userId");
  const claims = { role: roles.length ? roles : undefined, "webpubsub.group": groups.length ? groups : undefined };
  const token = jwt.sign(claims, accessKey, {
    algorithm: "HS256",
    audience: `${clientEndpoint.replace(/\/$/, "")}/client/hubs/${hub}`,
    expiresIn: minutes * 60,
    ...(userId ? { subject: userId } : {}),
  });
  return { status: 200, body: { token } };
}
