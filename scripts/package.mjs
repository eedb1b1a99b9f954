// `npm run package`, which azd runs as the service's prepackage hook (azure.yaml): stages, from
// scratch, exactly what the Functions host needs in .deploy/, the folder azd zips: a fresh build
// (the entry and the chunks holding every function and its dependencies, plus Swagger UI's files),
// host.json and a package.json that keeps only what the host reads. No node_modules (the bundle
// needs none), no scripts or dependencies (so a remote build, should one run, has nothing to do),
// no sources, tests, benchmarks, local/ or infra/, and nothing left from an earlier package.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// DEPLOY_DIR stages elsewhere (tests, the cold-start benchmark); azd zips .deploy/.
const out = process.env.DEPLOY_DIR ? path.resolve(process.env.DEPLOY_DIR) : path.join(root, ".deploy");

/** The fields of package.json the Functions host and the Node worker read; everything else stays behind. */
const SHIPPED_PACKAGE_FIELDS = ["name", "version", "type", "main"];

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
// The build writes straight into the staged folder (BUILD_OUT_DIR), so dist/ in the work tree is left alone.
execFileSync(process.execPath, [path.join(root, "scripts", "build.mjs")], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, BUILD_OUT_DIR: path.join(out, "dist") },
});
cpSync(path.join(root, "host.json"), path.join(out, "host.json"));
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const shipped = Object.fromEntries(SHIPPED_PACKAGE_FIELDS.map((field) => [field, pkg[field]]));
writeFileSync(path.join(out, "package.json"), `${JSON.stringify(shipped, null, 2)}\n`);
console.log(`deployment package staged in ${path.relative(process.cwd(), out) || "."}`);
