// `npm run build`: what the Functions host loads, as one bundle. Every function file under
// functions/ goes into dist/main.js (package.json `main`) with everything it imports, so the
// deployed app needs no node_modules and loads one file instead of thousands; Swagger UI's
// served files are copied beside it. esbuild, because it bundles TypeScript for Node in well
// under a second with no further configuration; types are checked by `npm run typecheck`.
//
// BUILD_OUT_DIR builds elsewhere (the build test), leaving dist/ alone.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = process.env.BUILD_OUT_DIR ? path.resolve(process.env.BUILD_OUT_DIR) : path.join(root, "dist");
const main = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).main;

rmSync(out, { recursive: true, force: true });
const functions = readdirSync(path.join(root, "functions")).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).sort();
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  keepNames: true,
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "linked",
  logLevel: "warning",
};
await build({
  ...common,
  stdin: { contents: functions.map((f) => `import "./functions/${f.replace(/\.ts$/, "")}";`).join("\n"), resolveDir: root, sourcefile: "functions.ts", loader: "ts" },
  outfile: path.join(out, path.relative("dist", main)),
  // The worker provides @azure/functions-core; pg's optional native driver is not used;
  // swagger-ui-dist is only looked up when running from source (its files sit beside the bundle).
  external: ["@azure/functions-core", "pg-native", "swagger-ui-dist"],
});
// The password-hashing thread's code (shared/auth/password-hasher.ts starts it from beside the bundle).
await build({ ...common, entryPoints: [path.join(root, "shared", "auth", "password-worker.cjs")], outfile: path.join(out, "password-worker.js") });

// Only the files /docs serves, not the whole swagger-ui-dist package.
const require = createRequire(import.meta.url);
const swaggerDist = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const assets = Object.keys(JSON.parse(readFileSync(path.join(root, "shared", "http", "swagger-ui-assets.json"), "utf8")));
mkdirSync(path.join(out, "swagger-ui"), { recursive: true });
for (const name of assets) cpSync(path.join(swaggerDist, name), path.join(out, "swagger-ui", name));
console.log(`built ${functions.length} functions into ${path.relative(root, path.join(out, path.relative("dist", main)))}`);
