// azd project hook `postdeploy` (azure.yaml). The deployed app applies its database migrations when
// an instance starts (DB_MIGRATE_ON_START=true, under an advisory lock). This wakes the new
// deployment at once and waits for GET /health to answer 200, which it does only when the app runs,
// reaches PostgreSQL with its identity and finds the schema at the version the code needs (503 with
// a `detail` until then). It only reports: it always exits 0, so a slow cold start never fails `azd up`.
const { fetch, AbortSignal } = globalThis;
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
  console.warn("Check the function app's logs in Application Insights (traces with 'migration', 'health check' or 'configuration').");
  return false;
}

if (!base) {
  console.log("postdeploy: SERVICE_API_URI is not in the azd environment; nothing to check.");
} else {
  try {
    if (await waitForHealth()) console.log(`API is up, schema current: ${base}`);
  } catch (error) {
    console.warn(`postdeploy check failed: ${error.message}`);
  }
}
