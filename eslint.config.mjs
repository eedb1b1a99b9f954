import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * shared/ in layers, bottom to top; a folder may import its own layer and those below it, never
 * one above. data (the database) and storage (attachment blobs) are siblings that never import
 * each other; so are auth and realtime, except that realtime may import auth (a socket's limits
 * count with auth's rate limiter): auth never imports realtime. Nothing in shared/ imports the code that
 * uses it (functions/, tools/, local/, ...). The README's "Layout" describes each layer.
 */
export const LAYERS = {
  domain: [],
  config: ["domain"],
  data: ["domain", "config"],
  storage: ["domain", "config"],
  auth: ["domain", "config", "data", "storage"],
  realtime: ["domain", "config", "data", "storage", "auth"],
  http: ["domain", "config", "data", "storage", "auth", "realtime"],
};
const OUTSIDE_SHARED = ["functions", "tools", "local", "test", "bench", "scripts", "client", "examples", "infra"];

/** A relative import that climbs out of the importing folder into `folder` (spelled ../x/ or ../../shared/x/). */
const into = (folder) => `^(\\.\\./)+(shared/)?${folder}(/|$)`;

function layerRules(layer, below) {
  const above = Object.keys(LAYERS).filter((other) => other !== layer && !below.includes(other));
  const forbidden = [
    ...above.map((other) => ({
      folder: other,
      message: `shared/${layer} may import only ${[layer, ...below].join(", ")}: shared/${other} is not below it.`,
    })),
    ...OUTSIDE_SHARED.map((folder) => ({
      folder,
      message: `shared/ never imports ${folder}/: only code outside shared/ imports shared/.`,
    })),
  ];
  return {
    files: [`shared/${layer}/**`],
    rules: {
      "no-restricted-imports": ["error", { patterns: forbidden.map(({ folder, message }) => ({ regex: into(folder), message })) }],
      // import() and require() are not import declarations: the same rule, for them.
      "no-restricted-syntax": [
        "error",
        ...forbidden.flatMap(({ folder, message }) => [
          { selector: `ImportExpression[source.value=/${into(folder).replaceAll("/", "\\/")}/]`, message },
          { selector: `CallExpression[callee.name="require"][arguments.0.value=/${into(folder).replaceAll("/", "\\/")}/]`, message },
        ]),
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      ".deploy/**",
      "client/dist/**",
      "node_modules/**",
      ".data/**",
      "coverage/**",
      "__azurite*/**",
      "__blobstorage__/**",
      "__queuestorage__/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
    },
  },
  {
    // CommonJS helpers that run as the Functions worker would load them, outside TypeScript.
    files: ["**/*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", performance: "readonly", globalThis: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  ...Object.entries(LAYERS).map(([layer, below]) => layerRules(layer, below)),
);
