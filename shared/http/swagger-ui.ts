import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";

import ASSET_TYPES from "./swagger-ui-assets.json";

/**
 * The Swagger UI files served under /docs (no CDN), by name with their content types. The
 * build copies exactly these from swagger-ui-dist next to the bundle (SWAGGER_UI_FOLDER);
 * run from source, they are read from the package itself.
 */
// A Map, not the object: a name such as `constructor` or `__proto__` must find nothing.
const ASSETS: ReadonlyMap<string, string> = new Map(Object.entries(ASSET_TYPES));
export const SWAGGER_UI_FOLDER = "swagger-ui";

let assetDir: string | undefined;
function assetFolder(): string {
  if (!assetDir) {
    const besideBundle = path.join(__dirname, SWAGGER_UI_FOLDER);
    assetDir = existsSync(besideBundle) ? besideBundle : path.dirname(require.resolve("swagger-ui-dist/package.json"));
  }
  return assetDir;
}

// Relative URLs, so the page works under any host and with or without a trailing slash.
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Real Time Email Service - API docs</title>
<base href="/docs/">
<link rel="stylesheet" href="swagger-ui.css">
<link rel="stylesheet" href="index.css">
<link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js"></script>
<script src="swagger-ui-standalone-preset.js"></script>
<script src="swagger-initializer.js"></script>
</body>
</html>`;

export const DOCS_INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null,
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html"
  });
};`;

/**
 * Headers on every /docs answer. Swagger UI holds a login dialog, so the page may not be framed
 * (clickjacking), and it runs only its own files: scripts from this origin (the page has no inline
 * script, the initializer is a file), requests only to this origin (the document and "Try it out").
 * Inline styles stay allowed because Swagger UI sets style attributes as it renders; its icons are
 * data: URIs. The validator badge (an image from another host) is turned off in the initializer.
 */
export const DOCS_HEADERS = {
  "Content-Security-Policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
} as const;

export interface Asset {
  body: Buffer | string;
  contentType: string;
}

/** One asset by name, or null for a name that is not part of Swagger UI. */
export async function swaggerAsset(name: string): Promise<Asset | null> {
  if (name === "" || name === "index.html") return { body: DOCS_PAGE, contentType: "text/html; charset=utf-8" };
  if (name === "swagger-initializer.js") return { body: DOCS_INITIALIZER, contentType: "text/javascript; charset=utf-8" };
  const contentType = ASSETS.get(name);
  if (!contentType) return null;
  return { body: await readFile(path.join(assetFolder(), name)), contentType };
}
