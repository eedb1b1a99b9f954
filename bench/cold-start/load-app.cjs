// Loads an app's `main` files (package.json, a `*` glob in the file name allowed) as the
// worker does (import() for ES modules, require otherwise), runs the app-start hooks it
// registered as the worker does next, and prints how long each took and how many functions
// registered.
const { readdirSync, readFileSync } = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

async function main() {
  const root = process.argv[2];
  const started = performance.now();
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
  const dir = path.join(root, path.dirname(pkg.main));
  const pattern = new RegExp(
    `^${path
      .basename(pkg.main)
      .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")}$`,
  );
  for (const file of readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()) {
    const full = path.join(dir, file);
    if (file.endsWith(".mjs") || (pkg.type === "module" && !file.endsWith(".cjs"))) await import(pathToFileURL(full).href);
    else require(full);
  }
  const ms = performance.now() - started;
  const hooksStarted = performance.now();
  for (const hook of globalThis.__appStartHooks) await hook({});
  const appStartMs = performance.now() - hooksStarted;
  console.log(JSON.stringify({ ms, appStartMs, functions: globalThis.__registeredFunctions.length }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
