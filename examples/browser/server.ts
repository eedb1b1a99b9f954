/**
 * Serves the example page, its script bundled by esbuild from page/app.ts and the client library
 * (as an app's build would), on a port of its own: the API must allow this origin (CORS).
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { build } from "esbuild";

export interface ExampleServer {
  /** e.g. http://127.0.0.1:PORT */
  origin: string;
  close(): Promise<void>;
}

const here = __dirname;

export async function bundleExample(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(here, "page", "app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "warning",
  });
  return result.outputFiles[0].text;
}

export async function serveExample(port = 0): Promise<ExampleServer> {
  const files: Record<string, { type: string; body: string }> = {
    "/": { type: "text/html; charset=utf-8", body: readFileSync(path.join(here, "page", "index.html"), "utf8") },
    "/app.js": { type: "text/javascript; charset=utf-8", body: await bundleExample() },
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url ?? "/", "http://x").pathname];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
