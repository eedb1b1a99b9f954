// azd service hook `prepackage` (azure.yaml): makes `azd up` / `azd deploy` work from a fresh clone.
// Installs exactly the locked dependencies, compiles to dist/, then stages the deployment package in
// .deploy/ (compiled app, host.json, manifests and production dependencies only; see
// scripts/package.mjs). azd then zips .deploy/, so no source, test or dev dependency is shipped.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const windows = process.platform === "win32";
const steps = [
  ["ci", "--no-audit", "--no-fund"],
  ["run", "build"],
  ["run", "package"],
];

for (const args of steps) {
  console.log(`> npm ${args.join(" ")}`);
  // npm is a .cmd script on Windows, which Node runs only through a shell.
  execFileSync(windows ? "npm.cmd" : "npm", args, { cwd: root, stdio: "inherit", shell: windows });
}
