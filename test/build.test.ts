/**
 * `npm run build` output is what the Functions host loads: package.json `main` must find
 * every function, each with its route and methods, and nothing else.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registeredFunctions } from "../local/functions-core";

const ROOT = path.resolve(__dirname, "..");
const EXPECTED: Record<string, { route: string; methods: string[] }> = {
  "token-create": { route: "token", methods: ["POST"] },
  "users-create": { route: "users", methods: ["POST"] },
  "users-list": { route: "users", methods: ["GET"] },
  "messages-send": { route: "messages", methods: ["POST"] },
  "messages-inbox": { route: "messages/inbox", methods: ["GET"] },
  "messages-outbox": { route: "messages/outbox", methods: ["GET"] },
  "messages-unread-count": { route: "messages/unread_count", methods: ["GET"] },
  "messages-mark-read": { route: "messages/{message_id}/read", methods: ["PUT"] },
  "messages-mark-unread": { route: "messages/{message_id}/unread", methods: ["PUT"] },
  "messages-mark-all-read": { route: "messages/inbox/read", methods: ["PUT"] },
  "messages-view": { route: "messages/{message_id}", methods: ["GET"] },
  "messages-delete": { route: "messages/{message_id}", methods: ["DELETE"] },
  "messages-thread": { route: "messages/{message_id}/thread", methods: ["GET"] },
  health: { route: "health", methods: ["GET"] },
  openapi: { route: "openapi.json", methods: ["GET"] },
  docs: { route: "docs/{*asset}", methods: ["GET"] },
  "ws-negotiate": { route: "ws", methods: ["GET"] },
  "webpubsub-events": { route: "webpubsub/events", methods: ["OPTIONS", "POST"] },
};

let out: string;

beforeAll(() => {
  // Build into a scratch folder the way `npm run build` does, so the test never races a dev build.
  out = mkdtempSync(path.join(tmpdir(), "build-test-"));
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(ROOT, "tsconfig.build.json"), "--outDir", path.join(out, "dist")], {
    cwd: ROOT,
    stdio: "pipe",
  });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "node_modules"), "dir");
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the build", () => {
  it("package.json main points at the compiled functions", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string; scripts: Record<string, string> };
    expect(pkg.main).toBe("dist/functions/*.js");
    expect(pkg.scripts.build).toMatch(/tsc -p tsconfig\.build\.json/);
  });

  it("compiles only functions/ and shared/ (no tests, benchmarks or local host)", () => {
    expect(readdirSync(path.join(out, "dist")).sort()).toEqual(["functions", "shared"]);
    const files = readdirSync(path.join(out, "dist", "functions")).filter((f) => f.endsWith(".js"));
    expect(files).toHaveLength(Object.keys(EXPECTED).length);
  });

  it("registers every function with its route, methods and anonymous auth level", async () => {
    const dir = path.join(out, "dist", "functions");
    // Loaded with Node's own require, as the worker loads `main`, not through the test transformer.
    const load = createRequire(__filename);
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".js"))) load(path.join(dir, file));
    const registered = Object.fromEntries(registeredFunctions().map((f) => [f.name, f.trigger]));
    expect(Object.keys(registered).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, expected] of Object.entries(EXPECTED)) {
      expect(registered[name].route, name).toBe(expected.route);
      expect([...(registered[name].methods ?? [])].sort(), name).toEqual(expected.methods);
      expect(registered[name].authLevel, name).toBe("anonymous");
      expect(registered[name].type).toBe("httpTrigger");
    }
  });

  it("host.json has no route prefix and the v4 extension bundle", () => {
    const host = JSON.parse(readFileSync(path.join(ROOT, "host.json"), "utf8"));
    expect(host.version).toBe("2.0");
    expect(host.extensions.http.routePrefix).toBe("");
    expect(host.extensionBundle).toEqual({ id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" });
  });

  it(".funcignore keeps tests, benchmarks, the local host, infra and sources out of the package", () => {
    const ignored = readFileSync(path.join(ROOT, ".funcignore"), "utf8").split("\n").map((l) => l.trim());
    for (const entry of ["test/", "bench/", "local/", "infra/", "local.settings.json"]) expect(ignored).toContain(entry);
    expect(existsSync(path.join(ROOT, "local.settings.example.json"))).toBe(true);
  });
});
