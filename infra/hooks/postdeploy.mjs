// azd project hook `postdeploy` (azure.yaml). The deployed app applies its database migrations when
// an instance starts (DB_MIGRATE_ON_START=true, under an advisory lock). This wakes the new
// deployment at once and reports:
//   GET  /health -> 200 when the app runs and reaches PostgreSQL with its identity;
//   POST /token  -> 401 for an unknown user means the users table exists, i.e. the schema is in place.
// It only reports: it always exits 0, so a slow cold start never fails `azd up`.
const { fetch, AbortSignal, URLSearchParams } = globalThis;
const base = process.env.SERVICE_API_URI || process.env.API_URL;
const DEADLINE_MS = 4 * 60_000;
const PAUSE_MS = 10_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(pathname, init = {}) {
  const response = await fetch(new URL(pathname, base), { ...init, signal: AbortSignal.timeout(60_000) });
  return { status: response.status, body: (await response.text()).slice(0, 300) };
}

async function waitForHealth() {
  const started = Date.now();
  let last = "no answer yet";
  while (Date.now() - started < DEADLINE_MS) {
    try {
      const { status, body } = await call("/health");
      if (status === 200) return true;
      last = `${status} ${body}`;
    } catch (error) {
      last = error.message;
    }
    console.log(`waiting for ${base}/health (${last})`);
    await sleep(PAUSE_MS);
  }
  console.warn(`The API did not report healthy within ${DEADLINE_MS / 60_000} minutes (last: ${last}).`);
  console.warn("Check the function app's logs in Application Insights (traces with 'migration' or 'configuration').");
  return false;
}

async function checkSchema() {
  const probe = new URLSearchParams({ username: `azd-postdeploy-probe-${Date.now()}`, password: "not-a-password" });
  const { status, body } = await call("/token", { method: "POST", body: probe });
  if (status === 401) console.log("Schema check: the users table answers (401 for an unknown user, as expected).");
  else console.warn(`Schema check: POST /token answered ${status} ${body}; the migrations may not have run. See the app's logs.`);
}

if (!base) {
  console.log("postdeploy: SERVICE_API_URI is not in the azd environment; nothing to check.");
} else {
  try {
    if (await waitForHealth()) {
      console.log(`API is up: ${base}`);
      await checkSchema();
    }
  } catch (error) {
    console.warn(`postdeploy check failed: ${error.message}`);
  }
}
