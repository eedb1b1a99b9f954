/**
 * The signing half of a local Microsoft Entra: RS256 access tokens for one managed identity,
 * shaped like Entra's v1 tokens for managed identities, and their verification for the local
 * stand-ins of the services those tokens are meant for. Local development and tests only.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";

/** Resources (audiences) of the services the app reaches with its identity. */
export const RESOURCES = {
  postgres: "https://ossrdbms-aad.database.windows.net",
  webPubSub: "https://webpubsub.azure.com",
  storage: "https://storage.azure.com",
} as const;

export interface IdentityClaims {
  aud: string;
  iss: string;
  /** Client (application) id of the identity: what the app sends as AZURE_CLIENT_ID. */
  appid: string;
  oid: string;
  sub: string;
  tid: string;
  idtyp: "app";
  iat: number;
  nbf: number;
  exp: number;
}

export interface IssueOptions {
  /** Overrides for tests of refused tokens (another audience, an expiry in the past). */
  claims?: Partial<IdentityClaims>;
}

export class Issuer {
  readonly issuer: string;
  readonly tenantId = randomUUID();
  readonly objectId = randomUUID();
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor(
    readonly clientId: string,
    readonly lifetimeSeconds = 3600,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.issuer = `https://sts.windows.net/${this.tenantId}/`;
  }

  issue(resource: string, options: IssueOptions = {}): { token: string; claims: IdentityClaims } {
    const now = Math.floor(Date.now() / 1000);
    const claims: IdentityClaims = {
      aud: resource,
      iss: this.issuer,
      appid: this.clientId,
      oid: this.objectId,
      sub: this.objectId,
      tid: this.tenantId,
      idtyp: "app",
      iat: now,
      nbf: now,
      exp: now + this.lifetimeSeconds,
      ...options.claims,
    };
    return { token: jwt.sign(claims, this.privateKey, { algorithm: "RS256", keyid: "local" }), claims };
  }

  /** A verifier for tokens this issuer signed for `resource`. */
  verifierFor(resource: string): TokenVerifier {
    return createVerifier({ publicKey: this.publicKey, issuer: this.issuer, resource });
  }
}

export type Verification = { ok: true; clientId: string; objectId: string } | { ok: false; reason: string };
export type TokenVerifier = (token: string) => Verification;

/**
 * Signature (RS256 only), issuer, audience, `exp` and `nbf` with no leeway, and a client id:
 * what a service checks before it lets a managed identity in.
 */
export function createVerifier(options: { publicKey: KeyObject; issuer: string; resource: string }): TokenVerifier {
  return (token) => {
    try {
      const claims = jwt.verify(token, options.publicKey, { algorithms: ["RS256"], issuer: options.issuer, audience: options.resource });
      if (typeof claims !== "object" || typeof claims.exp !== "number") return { ok: false, reason: "the token has no expiry" };
      if (typeof claims.appid !== "string" || typeof claims.oid !== "string") return { ok: false, reason: "the token names no identity" };
      return { ok: true, clientId: claims.appid, objectId: claims.oid };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  };
}
