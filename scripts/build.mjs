// `npm run build`: what the Functions host loads. esbuild bundles every function file under
// functions/ with everything it imports, so the deployed app needs no node_modules; Swagger UI's
// served files are copied beside it. esbuild, because it bundles TypeScript for Node in well
// under a second, and splits ES modules into shared chunks; types are checked by `npm run typecheck`.
//
// The entry the host loads (package.json `main`) registers every function from a manifest and
// imports a function's file on its first call (shared/http/lazy-app.ts): the host indexes the
// app without parsing zod, pg and the Azure SDKs, and a function never loads what only others
// use. The manifest is read by loading the function files once here, with registration deferred
// (shared/http/registration.ts), so each route is still declared once, in its function file.
//
// BUILD_OUT_DIR builds elsewhere (the build test), leaving dist/ alone.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

import { childEnv } from "./child-env.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = process.env.BUILD_OUT_DIR ? path.resolve(process.env.BUILD_OUT_DIR) : path.join(root, "dist");
const main = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).main;

rmSync(out, { recursive: true, force: true });
const functionFiles = readdirSync(path.join(root, "functions"))
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .sort()
  .map((f) => `./functions/${f.replace(/\.ts$/, "")}`);
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  minify: true,
  keepNames: true,
  sourcemap: "linked",
  sourcesContent: false,
  logLevel: "warning",
  // The worker provides @azure/functions-core; pg's optional native driver is not used;
  // swagger-ui-dist is only looked up when running from source (its files sit beside the bundle).
  external: ["@azure/functions-core", "pg-native", "swagger-ui-dist"],
};

const { manifest, timers } = await readManifest();

// ES modules, so that esbuild can split what several functions share into common chunks. The
// banner gives each chunk what the CommonJS code inside expects (require, __dirname).
await build({
  ...common,
  format: "esm",
  splitting: true,
  outdir: out,
  entryNames: path.basename(main, path.extname(main)),
  chunkNames: "[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  legalComments: "external",
  banner: {
    js: [
      'import { createRequire as __bundleCreateRequire } from "node:module";',
      'import { fileURLToPath as __bundleFileURLToPath } from "node:url";',
      "const require = __bundleCreateRequire(import.meta.url);",
      // Every chunk sits beside the entry, so __dirname is the folder of the password worker and Swagger UI's files.
      'const __dirname = __bundleFileURLToPath(new URL(".", import.meta.url));',
    ].join(" "),
  },
  stdin: {
    contents: [
      'import { serveLazily } from "./shared/http/lazy-app";',
      `serveLazily(${JSON.stringify(manifest)}, {`,
      ...functionFiles.map((file) => `  ${JSON.stringify(file)}: () => import(${JSON.stringify(file)}),`),
      `}, () => import("./shared/http/startup"), ${JSON.stringify(timers)});`,
    ].join("\n"),
    resolveDir: root,
    sourcefile: "lazy-entry.ts",
    loader: "ts",
  },
});
if (!readdirSync(out).includes(path.basename(main))) throw new Error(`the build did not write ${main} (package.json main)`);
// The password-hashing thread's code (shared/auth/password-hasher.ts starts it from beside the bundle).
await build({
  ...common,
  format: "cjs",
  legalComments: "linked",
  entryPoints: [path.join(root, "shared", "auth", "password-worker.cjs")],
  outfile: path.join(out, "password-worker.js"),
});

/** Which functions each file registers, with their routes and methods (or schedules), read by loading them with registration deferred. */
async function readManifest() {
  const scratch = mkdtempSync(path.join(tmpdir(), "manifest-"));
  try {
    const reader = path.join(scratch, "read-manifest.cjs");
    const contents = [
      'const registered = require("./shared/http/registration").deferRegistrations();',
      "const manifest = [];",
      "const timers = [];",
      ...functionFiles.map((file) =>
        [
          `require(${JSON.stringify(file)});`,
          `for (const fn of registered.functions.values()) if (!manifest.some((m) => m.name === fn.name)) manifest.push({ name: fn.name, route: fn.route, methods: fn.methods, file: ${JSON.stringify(file)} });`,
          `for (const fn of registered.timers.values()) if (!timers.some((t) => t.name === fn.name)) timers.push({ name: fn.name, schedule: fn.schedule, file: ${JSON.stringify(file)} });`,
        ].join(" "),
      ),
      "process.stdout.write(JSON.stringify({ manifest, timers }));",
    ].join("\n");
    await build({
      ...common,
      minify: false,
      sourcemap: false,
      format: "cjs",
      // ES modules bundled into it (@azure/storage-blob's) read import.meta.url, which CommonJS lacks.
      define: { "import.meta.url": "__manifestImportMetaUrl" },
      banner: { js: 'const __manifestImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
      stdin: { contents, resolveDir: root, sourcefile: "read-manifest.ts", loader: "ts" },
      outfile: reader,
    });
    // Loading the function files validates the configuration; these placeholders satisfy it and
    // are never used (nothing connects while files load). The developer's own settings stay out.
    const env = childEnv(process.env, {
      NODE_ENV: "production",
      SECRET_KEY: randomBytes(48).toString("base64url"),
      DATABASE_URL: "postgresql://manifest.invalid/none",
    });
    const read = JSON.parse(execFileSync(process.execPath, [reader], { cwd: scratch, env, encoding: "utf8" }));
    if (read.manifest.length === 0) throw new Error("no function registered while reading the manifest");
    return read;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// Only the files /docs serves, not the whole swagger-ui-dist package.
const require = createRequire(import.meta.url);
const swaggerDist = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const assets = Object.keys(JSON.parse(readFileSync(path.join(root, "shared", "http", "swagger-ui-assets.json"), "utf8")));
mkdirSync(path.join(out, "swagger-ui"), { recursive: true });
for (const name of assets) cpSync(path.join(swaggerDist, name), path.join(out, "swagger-ui", name));
console.log(
  `built ${manifest.length + timers.length} functions from ${functionFiles.length} files into ${path.relative(root, path.join(out, path.relative("dist", main)))}`,
);
