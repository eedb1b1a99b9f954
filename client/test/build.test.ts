/** The package as an app gets it: one ES module that loads in Node, and declarations that type-check. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const here = path.dirname(new URL(import.meta.url).pathname);
let out: string;

beforeAll(() => {
  // Inside the package (dist/ is ignored by git), so the bundle resolves its dependencies as an app's would.
  mkdirSync(path.join(here, "..", "dist"), { recursive: true });
  out = mkdtempSync(path.join(here, "..", "dist", "test-"));
  execFileSync(process.execPath, [path.join(here, "..", "build.mjs")], { env: { ...process.env, CLIENT_OUT_DIR: out }, stdio: "pipe" });
}, 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the built client", () => {
  it("imports only its declared dependencies and none of the server's code", () => {
    const bundle = readFileSync(path.join(out, "index.js"), "utf8");
    const imports = [...bundle.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(new Set(imports)).toEqual(new Set(["@azure/core-util", "@azure/storage-blob", "@azure/web-pubsub-client"]));
    expect(bundle).not.toMatch(/zod|newMessageEvent|defineEndpoint/);
  });

  it("loads in Node and exports connect", async () => {
    const module = (await import(pathToFileURL(path.join(out, "index.js")).href)) as Record<string, unknown>;
    expect(typeof module.connect).toBe("function");
    expect(typeof module.webPubSubTransport).toBe("function");
  });

  it("ships declarations naming the API's own event types", () => {
    const index = readFileSync(path.join(out, "types", "client", "src", "index.d.ts"), "utf8");
    expect(index).toMatch(/MailEvent/);
    expect(readFileSync(path.join(out, "types", "shared", "domain", "events.d.ts"), "utf8")).toMatch(/new_message/);
  });
});
