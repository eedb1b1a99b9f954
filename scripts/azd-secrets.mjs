// azd preprovision hook: makes sure the azd environment holds the two generated secrets
// (JWT_SECRET, WEBPUBSUB_EVENT_HANDLER_KEY). They are created once, on the first
// provision, kept in the environment's own .env under .azure/ (never in the repo) and
// written into Key Vault by the Bicep; later provisions reuse them, so tokens survive.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

const SECRETS = ["JWT_SECRET", "WEBPUBSUB_EVENT_HANDLER_KEY"];
const azd = (...args) => execFileSync("azd", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], shell: process.platform === "win32" }).trim();

for (const name of SECRETS) {
  let current = "";
  try {
    current = azd("env", "get-value", name);
  } catch {
    current = ""; // not set yet
  }
  if (current.length >= 32) continue;
  azd("env", "set", name, randomBytes(48).toString("base64url"));
  console.log(`generated ${name} for this azd environment`);
}
