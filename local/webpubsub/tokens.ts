/** Verifies the HS256 tokens Web PubSub accepts: signed with the access key string itself. */
import jwt from "jsonwebtoken";

export interface ClientClaims {
  userId?: string;
  roles: string[];
  groups: string[];
}

function asList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function pathAndQuery(url: string): string | null {
  try {
    const parsed = new URL(url);
    return `${parsed.pathname.replace(/\/$/, "").toLowerCase()}${parsed.search}`;
  } catch {
    return null;
  }
}

/**
 * Checks signature, expiry and audience. The audience is compared by path and query only:
 * clients reach the same endpoint as 127.0.0.1 or localhost.
 */
function verify(token: string, accessKey: string, audienceUrl: string): jwt.JwtPayload | null {
  try {
    const claims = jwt.verify(token, accessKey, { algorithms: ["HS256"] });
    if (typeof claims !== "object") return null;
    const expected = pathAndQuery(audienceUrl);
    const audiences = asList(claims.aud);
    return audiences.some((aud) => pathAndQuery(aud) === expected) ? claims : null;
  } catch {
    return null;
  }
}

export function verifyClientToken(token: string, accessKey: string, endpoint: string, hub: string): ClientClaims | null {
  const claims = verify(token, accessKey, `${endpoint}/client/hubs/${hub}`);
  if (!claims) return null;
  return { userId: typeof claims.sub === "string" ? claims.sub : undefined, roles: asList(claims.role), groups: asList(claims["webpubsub.group"]) };
}

/** REST calls carry a token whose audience is the full request URL. */
export function verifyServerToken(authorization: string | undefined, accessKey: string, requestUrl: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  return !!match && verify(match[1], accessKey, requestUrl) !== null;
}
