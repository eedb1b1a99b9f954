import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
);
