import { azureCredential } from "../config/identity";
import { DatabaseUnavailableError } from "./db-errors";

/** Entra scope for Azure Database for PostgreSQL. */
const POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

/** A pg password callback that returns a fresh Entra access token for each new connection. */
export function entraTokenProvider(clientId: string | undefined): () => Promise<string> {
  return async () => {
    try {
      const token = await (await azureCredential(clientId)).getToken(POSTGRES_SCOPE);
      if (token) return token.token;
    } catch (error) {
      throw new DatabaseUnavailableError(`no Microsoft Entra token for PostgreSQL: ${(error as Error).message}`);
    }
    throw new DatabaseUnavailableError("no Microsoft Entra token for PostgreSQL");
  };
}
