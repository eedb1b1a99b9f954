// Loads an app's `main` files (package.json, a `*` glob in the file name allowed) as the
// worker does, and prints how long that took and how many functions registered.
const { readdirSync, readFileSync } = require("node:fs");
const path = require("node:path");
const root = process.argv[2];
const started = performance.now();
const main = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).main;
const dir = path.join(root, path.dirname(main));
const pattern = new RegExp(`^${path.basename(main).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
for (const file of readdirSync(dir).filter((f) => pattern.test(f)).sort()) require(path.join(dir, file));
const ms = performance.now() - started;
console.log(JSON.stringify({ ms, functions: globalThis.__registeredFunctions.length }));
