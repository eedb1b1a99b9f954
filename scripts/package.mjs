// `npm run package` (azd runs it before deploying): stages exactly what the Functions host
// needs in .deploy/: the compiled dist/, host.json, package.json and production
// dependencies only. No sources, tests, benchmarks, local/, infra/ or dev dependencies.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// DEPLOY_DIR lets the packaging test stage into a scratch folder.
const out = process.env.DEPLOY_DIR ? path.resolve(process.env.DEPLOY_DIR) : path.join(root, ".deploy");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

if (!existsSync(path.join(root, "dist", "functions"))) {
  execFileSync(npm, ["run", "build"], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const entry of ["dist", "host.json", "package.json", "package-lock.json"]) {
  cpSync(path.join(root, entry), path.join(out, entry), { recursive: true });
}
execFileSync(npm, ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], {
  cwd: out,
  stdio: "inherit",
  shell: process.platform === "win32",
  env: { ...process.env, NODE_ENV: "production" },
});
console.log(`deployment package staged in ${path.relative(process.cwd(), out) || "."}`);
