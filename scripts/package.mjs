// `npm run package`, which azd runs as the service's prepackage hook (azure.yaml): stages, from
// scratch, exactly what the Functions host needs in .deploy/: a fresh build of dist/ (the entry
// and the chunks holding every function and its dependencies, plus Swagger UI's files), host.json
// and package.json, whose `main` names the entry. No node_modules (the bundle needs none), sources,
// tests, benchmarks, local/ or infra/, and nothing left over from an earlier package or build.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// DEPLOY_DIR stages elsewhere (the cold-start benchmark); azd zips .deploy/.
const out = process.env.DEPLOY_DIR ? path.resolve(process.env.DEPLOY_DIR) : path.join(root, ".deploy");
const windows = process.platform === "win32";
// npm is a .cmd script on Windows, which Node runs only through a shell.
const npm = (args, cwd) => execFileSync(windows ? "npm.cmd" : "npm", args, { cwd, stdio: "inherit", shell: windows });

// Always rebuild: `npm run build` empties dist/ first, so no stale or deleted function ships.
npm(["run", "build"], root);
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const entry of ["dist", "host.json", "package.json"]) {
  cpSync(path.join(root, entry), path.join(out, entry), { recursive: true });
}
console.log(`deployment package staged in ${path.relative(process.cwd(), out) || "."}`);
