import { readFile } from "node:fs/promises";
import path from "node:path";

/** The Swagger UI files served under /docs, from the swagger-ui-dist package (no CDN). */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "index.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
  "oauth2-redirect.html": "text/html; charset=utf-8",
  "oauth2-redirect.js": "text/javascript; charset=utf-8",
};

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
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html"
  });
};`;

export interface Asset {
  body: Buffer | string;
  contentType: string;
}

/** One asset by name, or null for a name that is not part of Swagger UI. */
export async function swaggerAsset(name: string): Promise<Asset | null> {
  if (name === "" || name === "index.html") return { body: DOCS_PAGE, contentType: "text/html; charset=utf-8" };
  if (name === "swagger-initializer.js") return { body: DOCS_INITIALIZER, contentType: "text/javascript; charset=utf-8" };
  const contentType = ASSETS[name];
  if (!contentType) return null;
  return { body: await readFile(path.join(path.dirname(require.resolve("swagger-ui-dist/package.json")), name)), contentType };
}
