// azd project hook `postdeploy` (azure.yaml). The deployed app applies its database migrations when
// an instance starts (DB_MIGRATE_ON_START=true, under an advisory lock). This wakes the new
// deployment and waits for GET /health to answer 200, which it does only when the app runs, reaches
// PostgreSQL with its identity and finds the schema at the version the code needs.
//
// After a fresh provision the app's Key Vault role can take minutes to reach Key Vault, and an
// instance that starts before then gets the literal @Microsoft.KeyVault(...) references, refuses to
// start, and stays down: the platform resolves references again only when the site restarts. So
// when /health has not come up in the first window, this restarts the app once (ARM, with azd's own
// sign-in) and waits again. It only reports: it always exits 0, so a slow start never fails `azd up`.
//
// With PRIVATE_NETWORKING on, Web PubSub reads the event-handler key through a shared private link to
// Key Vault, which stays pending until Key Vault's side approves it; this approves it first (once: an
// approved link is left alone), so the hub's events reach the app without a manual step.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const TIMING = { beforeRestartMs: 2 * 60_000, afterRestartMs: 4 * 60_000, pauseMs: 10_000, requestMs: 60_000 };
const { fetch, AbortSignal } = globalThis;
const ARM = "https://management.azure.com";
const SITES_API_VERSION = "2024-04-01";
const VAULTS_API_VERSION = "2023-07-01";
/** The request message of Web PubSub's shared private link (infra/app/webpubsub.bicep): how its pending connection is recognised. */
export const KEY_VAULT_LINK_REQUEST = "Web PubSub reads the event-handler key for its upstream URL";

/** A token for Azure Resource Manager from the account azd signed in with (`azd auth token`). */
export function azdArmToken() {
  const out = execFileSync("azd", ["auth", "token", "--output", "json"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    shell: process.platform === "win32",
  });
  return JSON.parse(out).token;
}

/**
 * Waits for /health, restarting the app once if it does not come up in time.
 * @param {object} options
 * @param {NodeJS.ProcessEnv} options.env the azd environment (SERVICE_API_URI, AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, SERVICE_API_NAME)
 * @param {() => string} [options.token] an ARM access token
 * @param {string} [options.arm] the Resource Manager endpoint
 * @param {typeof TIMING} [options.timing]
 * @param {(line: string) => void} [options.log]
 * @returns {Promise<"healthy" | "healthy after restart" | "not healthy" | "no url">}
 */
export async function postdeploy({ env, token = azdArmToken, arm = ARM, timing = TIMING, log = console.log }) {
  const base = env.SERVICE_API_URI || env.API_URL;
  if (!base) {
    log("postdeploy: SERVICE_API_URI is not in the azd environment; nothing to check.");
    return "no url";
  }
  if (env.PRIVATE_NETWORKING === "true") await approveKeyVaultLink({ env, token, arm, timing, log });
  if (await waitForHealth(base, timing.beforeRestartMs, timing, log)) return report("healthy", base, log);

  const site = { subscription: env.AZURE_SUBSCRIPTION_ID, group: env.AZURE_RESOURCE_GROUP, name: env.SERVICE_API_NAME };
  const manual = `az functionapp restart -g ${site.group ?? "<resource group>"} -n ${site.name ?? "<function app>"}`;
  if (!site.subscription || !site.group || !site.name) {
    log(`The API is not up, and the azd environment does not name the app to restart it; if it stays down: ${manual}`);
  } else {
    try {
      await restart(arm, site, token(), timing);
      log(
        `The API was not up after ${timing.beforeRestartMs / 60_000} minutes: restarted ${site.name} once (it resolves its Key Vault settings again as it starts).`,
      );
      if (await waitForHealth(base, timing.afterRestartMs, timing, log)) return report("healthy after restart", base, log);
    } catch (error) {
      log(`Could not restart the app (${error.message}); if it stays down: ${manual}`);
    }
  }
  log(
    "The API did not report healthy. Check the function app's logs in Application Insights (traces with 'migration', 'health check' or 'configuration').",
  );
  return "not healthy";
}

function report(outcome, base, log) {
  log(`API is up, schema current: ${base}`);
  return outcome;
}

async function waitForHealth(base, windowMs, timing, log) {
  const started = Date.now();
  let last = "no answer yet";
  for (;;) {
    try {
      const response = await fetch(new URL("/health", base), { signal: AbortSignal.timeout(timing.requestMs) });
      if (response.status === 200) return true;
      last = `${response.status} ${(await response.text()).slice(0, 300)}`;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() - started + timing.pauseMs > windowMs) {
      log(`${base}/health did not answer 200 within ${Math.round(windowMs / 1000)} s (last: ${last})`);
      return false;
    }
    log(`waiting for ${base}/health (${last})`);
    await new Promise((resolve) => setTimeout(resolve, timing.pauseMs));
  }
}

/** Approves Web PubSub's pending private endpoint connection on the Key Vault; says how to do it by hand if it cannot. */
async function approveKeyVaultLink({ env, token, arm, timing, log }) {
  const vault = { subscription: env.AZURE_SUBSCRIPTION_ID, group: env.AZURE_RESOURCE_GROUP, name: env.AZURE_KEY_VAULT_NAME };
  const manual = "approve it as docs/deploy.md (Private networking) shows";
  if (!vault.subscription || !vault.group || !vault.name) {
    log(`Private networking: the azd environment does not name the Key Vault; ${manual}.`);
    return;
  }
  try {
    const bearer = token();
    const base = `${arm}/subscriptions/${encodeURIComponent(vault.subscription)}/resourceGroups/${encodeURIComponent(vault.group)}/providers/Microsoft.KeyVault/vaults/${encodeURIComponent(vault.name)}/privateEndpointConnections`;
    const call = async (url, init = {}) => {
      const response = await fetch(url, {
        ...init,
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        signal: AbortSignal.timeout(timing.requestMs),
      });
      if (!response.ok) throw new Error(`${init.method ?? "GET"} answered ${response.status} ${(await response.text()).slice(0, 300)}`);
      return response.json();
    };
    const { value = [] } = await call(`${base}?api-version=${VAULTS_API_VERSION}`);
    const pending = value.filter(
      (c) =>
        c.properties?.privateLinkServiceConnectionState?.status === "Pending" &&
        c.properties.privateLinkServiceConnectionState.description === KEY_VAULT_LINK_REQUEST,
    );
    for (const connection of pending) {
      await call(`${base}/${encodeURIComponent(connection.name)}?api-version=${VAULTS_API_VERSION}`, {
        method: "PUT",
        body: JSON.stringify({
          properties: {
            privateEndpoint: connection.properties.privateEndpoint,
            privateLinkServiceConnectionState: { status: "Approved", description: "Approved by the postdeploy hook" },
          },
        }),
      });
      log(`Private networking: approved Web PubSub's private link to ${vault.name} (${connection.name}).`);
    }
  } catch (error) {
    log(`Private networking: could not approve Web PubSub's private link to the Key Vault (${error.message}); ${manual}.`);
  }
}

async function restart(arm, site, bearer, timing) {
  const url = `${arm}/subscriptions/${encodeURIComponent(site.subscription)}/resourceGroups/${encodeURIComponent(site.group)}/providers/Microsoft.Web/sites/${encodeURIComponent(site.name)}/restart?api-version=${SITES_API_VERSION}`;
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}` },
    signal: AbortSignal.timeout(timing.requestMs),
  });
  if (!response.ok) throw new Error(`restart answered ${response.status} ${(await response.text()).slice(0, 300)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await postdeploy({ env: process.env });
  } catch (error) {
    console.warn(`postdeploy check failed: ${error.message}`);
  }
}
