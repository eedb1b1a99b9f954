/** Verifies the HS256 tokens Web PubSub accepts: signed with the access key string itself, not its base64 bytes. */
import jwt from "jsonwebtoken";

export interface ClientIdentity {
  /** Absent for an anonymous connection. */
  userId?: string;
  roles: string[];
  groups: string[];
}

const BEARER = /^Bearer\s+(\S+)$/i;

export function bearerToken(authorization: string | undefined): string | undefined {
  return BEARER.exec(authorization ?? "")?.[1];
}

function asList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function parseUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** Signature (HS256 only: never `none` or a key-confusion algorithm), `exp` and `nbf`; the caller checks `aud`. */
function verifiedClaims(token: string, accessKey: string): jwt.JwtPayload | null {
  try {
    const claims = jwt.verify(token, accessKey, { algorithms: ["HS256"] });
    // jsonwebtoken accepts a token without `exp` forever; the SDK always sets one, so its absence means someone else signed it.
    return typeof claims === "object" && typeof claims.exp === "number" ? claims : null;
  } catch {
    return null;
  }
}

/**
 * A client token's audience is `{endpoint}/client/hubs/{hub}`. Only the path is compared:
 * the same stand-in is reached as 127.0.0.1 or localhost, and behind proxies. Hub names
 * are case-insensitive in the service.
 */
export function verifyClientToken(token: string, accessKey: string, hub: string): ClientIdentity | null {
  const claims = verifiedClaims(token, accessKey);
  if (!claims) return null;
  const expected = `/client/hubs/${hub}`.toLowerCase();
  const audienceMatches = asList(claims.aud).some((aud) => parseUrl(aud)?.pathname.replace(/\/$/, "").toLowerCase() === expected);
  if (!audienceMatches) return null;
  return {
    userId: typeof claims.sub === "string" ? claims.sub : undefined,
    roles: asList(claims.role),
    groups: asList(claims["webpubsub.group"]),
  };
}

/**
 * A REST call's token has the full request URL as its audience, so a token captured for
 * one call cannot be replayed against another path or query. The host is not compared:
 * the SDK signs the URL before a reverse-proxy policy may rewrite it.
 */
export function verifyServerToken(authorization: string | undefined, accessKey: string, requestUrl: URL): boolean {
  const token = bearerToken(authorization);
  const claims = token ? verifiedClaims(token, accessKey) : null;
  if (!claims) return false;
  const expected = requestUrl.pathname + requestUrl.search;
  return asList(claims.aud).some((aud) => {
    const url = parseUrl(aud);
    return url !== null && url.pathname + url.search === expected;
  });
}
