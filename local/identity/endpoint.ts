/**
 * A local managed identity endpoint speaking the protocol the Functions platform gives the app
 * (App Service MSI, api-version 2019-08-01): `GET {IDENTITY_ENDPOINT}?resource=…&api-version=…
 * &client_id=…` with the `X-IDENTITY-HEADER` secret, answering `access_token`, `expires_on`,
 * `resource`, `token_type`. What `ManagedIdentityCredential` (via MSAL) sends and reads.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";

import { sameSecret } from "../../shared/domain/secrets";
import { listen } from "../listen";
import { Issuer, RESOURCES } from "./issuer";

export const MSI_API_VERSION = "2019-08-01";
export const MSI_PATH = "/msi/token";

export interface IdentityEndpointOptions {
  /** The issuer to sign with; a new one for a random client id by default. */
  issuer?: Issuer;
  /** Resources it issues tokens for; by default PostgreSQL and Web PubSub. */
  resources?: readonly string[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface IdentityEndpoint {
  readonly issuer: Issuer;
  /** IDENTITY_ENDPOINT */
  readonly url: string;
  /** IDENTITY_HEADER */
  readonly header: string;
  /** Tokens issued so far, by resource. */
  readonly issued: Map<string, number>;
  close(): Promise<void>;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  // The App Service shape; MSAL reads `message` (or `error`) into its error.
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ statusCode: status, message }));
}

export async function startIdentityEndpoint(options: IdentityEndpointOptions = {}): Promise<IdentityEndpoint> {
  const issuer = options.issuer ?? new Issuer(randomUUID());
  const resources = new Set(options.resources ?? Object.values(RESOURCES));
  const header = randomBytes(24).toString("hex");
  const issued = new Map<string, number>();

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://identity");
    const query = url.searchParams;
    if (req.method !== "GET" || url.pathname !== MSI_PATH) return refuse(res, 404, "Not found.");
    const secret = req.headers["x-identity-header"];
    if (typeof secret !== "string" || !sameSecret(secret, header))
      return refuse(res, 401, "The X-IDENTITY-HEADER header is missing or wrong.");
    if (query.get("api-version") !== MSI_API_VERSION) return refuse(res, 400, `Unsupported api-version; use ${MSI_API_VERSION}.`);
    const resource = query.get("resource") ?? "";
    if (!resources.has(resource)) return refuse(res, 400, `No token for resource '${resource}': this identity may not sign in to it.`);
    // The app has one user-assigned identity and no system-assigned one, so it must name it.
    if (query.get("client_id") !== issuer.clientId || query.has("mi_res_id") || query.has("object_id")) {
      return refuse(res, 400, "No managed identity with that id is assigned to this app.");
    }
    const { token, claims } = issuer.issue(resource);
    issued.set(resource, (issued.get(resource) ?? 0) + 1);
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(
        JSON.stringify({ access_token: token, expires_on: String(claims.exp), resource, token_type: "Bearer", client_id: issuer.clientId }),
      );
  };

  const server = http.createServer((req, res) => {
    req.resume();
    answer(req, res);
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, options.port ?? 0, host);
  let closing: Promise<void> | undefined;
  return {
    issuer,
    url: `http://${host}:${port}${MSI_PATH}`,
    header,
    issued,
    close() {
      closing ??= new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      });
      return closing;
    },
  };
}
