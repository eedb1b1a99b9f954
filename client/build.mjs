// `npm run build` in client/ (or `npm run build:client` at the root): dist/index.js, one ES
// module for browsers and Node with its dependencies left to the app's bundler or node_modules,
// and the declarations in dist/types. esbuild, as for the functions; tsc only writes the types,
// which include the API's own event and schema types this package imports as types.
// CLIENT_OUT_DIR builds elsewhere (the build test), leaving dist/ alone.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.CLIENT_OUT_DIR ? path.resolve(process.env.CLIENT_OUT_DIR) : path.join(here, "dist");
const { dependencies } = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8"));

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [path.join(here, "src", "index.ts")],
  outfile: path.join(out, "index.js"),
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  sourcemap: true,
  external: Object.keys(dependencies),
  logLevel: "warning",
});
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", path.join(here, "tsconfig.json"), "--outDir", path.join(out, "types")], { stdio: "inherit" });
