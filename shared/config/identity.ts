import type { TokenCredential } from "@azure/identity";

/**
 * The identity endpoint is on the instance itself: a blip is worth two quick retries, but the
 * default backoff (about 7 s) would outlast the database connection timeout, and the request
 * would fail as a timeout instead of naming the identity.
 */
const IDENTITY_RETRIES = { maxRetries: 2, retryDelayInMs: 300, maxRetryDelayInMs: 1_000 };

let credential: TokenCredential | undefined;

/**
 * The instance's Azure credential. In Azure (AZURE_CLIENT_ID set) exactly the user-assigned
 * managed identity, through the platform's identity endpoint: no chain that might pick up
 * another credential or spend seconds probing (Microsoft's advice for production). Without
 * a client id, a developer's own sign-in (`az login`) through the default chain.
 */
export async function azureCredential(clientId: string | undefined): Promise<TokenCredential> {
  if (!credential) {
    const { DefaultAzureCredential, ManagedIdentityCredential } = await import("@azure/identity");
    credential = clientId ? new ManagedIdentityCredential({ clientId, retryOptions: IDENTITY_RETRIES }) : new DefaultAzureCredential();
  }
  return credential;
}
