// `npm run package`, which azd runs as the service's prepackage hook (azure.yaml): stages, from
// scratch, exactly what the Functions host needs in .deploy/: a fresh build of dist/, host.json,
// package.json and production dependencies only. No sources, tests, benchmarks, local/, infra/
// or dev dependencies, and nothing left over from an earlier package or build.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, ".deploy");
const windows = process.platform === "win32";
// npm is a .cmd script on Windows, which Node runs only through a shell.
const npm = (args, cwd, env = process.env) => execFileSync(windows ? "npm.cmd" : "npm", args, { cwd, stdio: "inherit", shell: windows, env });

// Always rebuild: `npm run build` empties dist/ first, so no stale or deleted function ships.
npm(["run", "build"], root);
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const entry of ["dist", "host.json", "package.json", "package-lock.json"]) {
  cpSync(path.join(root, entry), path.join(out, entry), { recursive: true });
}
npm(["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], out, { ...process.env, NODE_ENV: "production" });
console.log(`deployment package staged in ${path.relative(process.cwd(), out) || "."}`);
