/**
 * `npm run build` output is what the Functions host loads: package.json `main` names an entry
 * that registers every function, each with its route and methods, and loads a function's code
 * on its first call; the whole needs no node_modules beside it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { programmingModel, registeredFunctions } from "../../local/functions-core";

const ROOT = path.resolve(__dirname, "../..");
const EXPECTED: Record<string, { route: string; methods: string[] }> = {
  "token-create": { route: "token", methods: ["POST"] },
  "users-create": { route: "users", methods: ["POST"] },
  "users-list": { route: "users", methods: ["GET"] },
  "users-me": { route: "users/me", methods: ["GET"] },
  "users-me-delete": { route: "users/me", methods: ["DELETE"] },
  "users-me-export": { route: "users/me/export", methods: ["GET"] },
  "users-me-sessions-list": { route: "users/me/sessions", methods: ["GET"] },
  "users-me-sessions-delete": { route: "users/me/sessions", methods: ["DELETE"] },
  "users-me-session-delete": { route: "users/me/sessions/{session_id}", methods: ["DELETE"] },
  "users-me-password": { route: "users/me/password", methods: ["PUT"] },
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
  "messages-list": { route: "messages", methods: ["GET"] },
  "messages-counts": { route: "messages/counts", methods: ["GET"] },
  "messages-update": { route: "messages/{message_id}", methods: ["PATCH"] },
  "messages-bulk": { route: "messages/bulk", methods: ["POST"] },
  "events-list": { route: "events", methods: ["GET"] },
  "attachments-create": { route: "attachments", methods: ["POST"] },
  "attachments-download": { route: "messages/{message_id}/attachments/{attachment_id}", methods: ["GET"] },
  health: { route: "health", methods: ["GET"] },
  openapi: { route: "openapi.json", methods: ["GET"] },
  docs: { route: "docs/{*asset}", methods: ["GET"] },
  "ws-negotiate": { route: "ws", methods: ["GET"] },
  "webpubsub-events": { route: "webpubsub/events", methods: ["OPTIONS", "POST"] },
};
/** Timer functions, with their NCRONTAB schedules. */
const EXPECTED_TIMERS: Record<string, string> = {
  "idempotency-keys-sweep": "0 */10 * * * *",
  "events-sweep": "0 * * * * *",
  "attachments-sweep": "0 */5 * * * *",
  "sessions-sweep": "0 17 * * * *",
  "trash-sweep": "30 */10 * * * *",
};

let out: string;

beforeAll(() => {
  // Build into a scratch folder exactly as `npm run build` does, so the test never races a dev
  // build; no node_modules there, as in the deployed package.
  out = mkdtempSync(path.join(tmpdir(), "build-test-"));
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs")], {
    cwd: ROOT,
    stdio: "pipe",
    env: { ...process.env, BUILD_OUT_DIR: path.join(out, "dist") },
  });
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the build", () => {
  it("package.json main names the bundle the build writes", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string; scripts: Record<string, string> };
    expect(pkg.main).toBe("dist/main.mjs");
    expect(pkg.scripts.build).toBe("node scripts/build.mjs");
  });

  it("writes the entry, its chunks and maps, the hashing thread and Swagger UI's served files only (no tests, benchmarks, local host or sources)", () => {
    const files = readdirSync(path.join(out, "dist"));
    expect(files).toEqual(
      expect.arrayContaining(["main.mjs", "main.mjs.map", "password-worker.js", "password-worker.js.map", "swagger-ui"]),
    );
    const others = files.filter(
      (f) =>
        ![
          "main.mjs",
          "main.mjs.map",
          "password-worker.js",
          "password-worker.js.map",
          "password-worker.js.LEGAL.txt",
          "swagger-ui",
        ].includes(f),
    );
    for (const file of others) expect(file).toMatch(/^[a-z-]+-[A-Z0-9]{8}\.mjs(\.map|\.LEGAL\.txt)?$/);
    const served = Object.keys(
      JSON.parse(readFileSync(path.join(ROOT, "shared", "http", "swagger-ui-assets.json"), "utf8")) as Record<string, string>,
    );
    expect(readdirSync(path.join(out, "dist", "swagger-ui")).sort()).toEqual(served.sort());
    expect(existsSync(path.join(out, "node_modules"))).toBe(false);
  });

  it("imports nothing but its own chunks and Node's built-ins (no node_modules), the worker's core module aside", () => {
    for (const file of readdirSync(path.join(out, "dist")).filter((f) => f.endsWith(".mjs"))) {
      const text = readFileSync(path.join(out, "dist", file), "utf8");
      // Static imports (statements start a line or follow a semicolon in the minified output) and import() of chunks.
      const statics = [...text.matchAll(/(?:^|;)import\s*(?:[\w$*{},\s]*?from\s*)?"([^"]+)"/gm)].map((m) => m[1]);
      const specifiers = [...statics, ...[...text.matchAll(/import\("(\.\/[^"]+)"\)/g)].map((m) => m[1])];
      expect(statics.length, file).toBeGreaterThan(0);
      for (const specifier of specifiers) {
        if (specifier.startsWith("./")) expect(existsSync(path.join(out, "dist", specifier)), `${file} imports ${specifier}`).toBe(true);
        else expect(builtinModules, `${file} imports ${specifier}`).toContain(specifier.replace(/^node:/, ""));
      }
    }
  });

  it("registers every function without loading any function's code: the entry's static imports hold neither zod nor pg", () => {
    const reachable = new Set<string>();
    const visit = (file: string): void => {
      if (reachable.has(file)) return;
      reachable.add(file);
      const text = readFileSync(path.join(out, "dist", file), "utf8");
      for (const [, imported] of text.matchAll(/(?:^|;)import\s*(?:[\w$*{},\s]*?from\s*)?"\.\/([^"]+)"/gm)) visit(imported);
    };
    visit("main.mjs");
    const loadedAtStart = [...reachable].map((file) => readFileSync(path.join(out, "dist", file), "utf8")).join("\n");
    // Booleans, so that a failure does not print the bundle.
    expect({
      zod: loadedAtStart.includes("ZodError"),
      pg: loadedAtStart.includes("client_encoding"),
      registration: loadedAtStart.includes("deferRegistrations"),
    }).toEqual({ zod: false, pg: false, registration: true });
  });

  it("keeps the common-password list in a chunk of its own that only import() loads (registration's first call)", () => {
    const files = readdirSync(path.join(out, "dist")).filter((f) => f.endsWith(".mjs"));
    const holders = files.filter((f) => readFileSync(path.join(out, "dist", f), "utf8").includes("trustno1"));
    expect(holders).toHaveLength(1);
    const [list] = holders;
    expect(list).not.toBe("main.mjs");
    // Not the registration function's own chunk either: that one reaches the list through import().
    expect(readFileSync(path.join(out, "dist", list), "utf8").includes("users-create")).toBe(false);
    for (const file of files) {
      const text = readFileSync(path.join(out, "dist", file), "utf8");
      const statics = [...text.matchAll(/(?:^|;)import\s*(?:[\w$*{},\s]*?from\s*)?"\.\/([^"]+)"/gm)].map((m) => m[1]);
      expect(statics, `${file} imports the list statically`).not.toContain(list);
    }
  });

  it("registers every function with its route, methods and anonymous auth level, with no node_modules", async () => {
    // Loaded with Node's own import(), as the worker loads an ES module `main`, not through the test transformer.
    const importer = path.join(out, "import.cjs");
    writeFileSync(importer, "module.exports = (url) => import(url);");
    const nativeImport = createRequire(__filename)(importer) as (url: string) => Promise<unknown>;
    await nativeImport(pathToFileURL(path.join(out, "dist", "main.mjs")).href);
    const registered = Object.fromEntries(
      registeredFunctions()
        .filter((f) => f.trigger.type === "httpTrigger")
        .map((f) => [f.name, f.trigger]),
    );
    expect(Object.keys(registered).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, expected] of Object.entries(EXPECTED)) {
      expect(registered[name].route, name).toBe(expected.route);
      expect([...(registered[name].methods ?? [])].sort(), name).toEqual(expected.methods);
      expect(registered[name].authLevel, name).toBe("anonymous");
      expect(registered[name].type).toBe("httpTrigger");
    }
  });

  it("registers every timer function with its schedule, loading its code on its first run", async () => {
    const timers = registeredFunctions().filter((f) => f.trigger.type !== "httpTrigger");
    expect(Object.fromEntries(timers.map((f) => [f.name, [f.trigger.type, f.trigger.schedule]]))).toEqual(
      Object.fromEntries(Object.entries(EXPECTED_TIMERS).map(([name, schedule]) => [name, ["timerTrigger", schedule]])),
    );
    // Its first run loads its file from the bundle and sweeps: here the placeholder database (test/support/env.ts) cannot be reached.
    const sweep = timers.find((f) => f.name === "idempotency-keys-sweep")!;
    await expect(Promise.resolve(sweep.handler({ isPastDue: false }, new InvocationContext()))).rejects.toThrow(
      /placeholder\.invalid|ENOTFOUND|EAI_AGAIN/,
    );
  });

  it("turns HTTP streaming on as documented (app.setup in the entry): the worker reports the address of the proxy the host streams through", async () => {
    // The worker asks the programming model the bundle set for the capabilities it tells the host;
    // HttpUri is there only when app.setup({ enableHttpStream: true }) ran in the same copy of the
    // library before that question. Without it the worker buffers every answer (the export) whole.
    const model = programmingModel();
    expect(model?.name).toBe("@azure/functions");
    const opened: Server[] = [];
    const listen = Server.prototype.listen;
    vi.spyOn(Server.prototype, "listen").mockImplementation(function (this: Server, ...args: unknown[]) {
      opened.push(this);
      return (listen as (...a: unknown[]) => Server).apply(this, args);
    } as typeof Server.prototype.listen);
    try {
      const capabilities = await model!.getCapabilities({});
      expect(capabilities.HttpUri).toMatch(/^http:\/\/localhost:\d+\/$/);
    } finally {
      vi.restoreAllMocks();
      // The proxy the library opened for the host, closed as the worker's exit would.
      for (const server of opened) server.close();
    }
  });

  it("serves Swagger UI's files from beside the bundle", async () => {
    const docs = registeredFunctions().find((f) => f.name === "docs")!;
    const response = (await docs.handler(
      new HttpRequest({ method: "GET", url: "http://localhost/docs/swagger-ui.css", params: { asset: "swagger-ui.css" } }),
      new InvocationContext(),
    )) as HttpResponseInit;
    expect(response.status).toBe(200);
    expect(String(response.headers && (response.headers as Record<string, string>)["Content-Type"])).toMatch(/text\/css/);
  });

  it("serves an OpenAPI document of every API function in the bundle (built from their declarations)", async () => {
    const openapi = registeredFunctions().find((f) => f.name === "openapi")!;
    const response = (await openapi.handler(
      new HttpRequest({ method: "GET", url: "http://localhost/openapi.json" }),
      new InvocationContext(),
    )) as HttpResponseInit;
    const doc = JSON.parse(String(response.body)) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p.replace(/^\/|\/$/g, "")}`),
    );
    const served = Object.entries(EXPECTED)
      .filter(([name]) => !["docs", "openapi", "webpubsub-events"].includes(name))
      .flatMap(([, { route, methods }]) => methods.map((m) => `${m} ${route}`));
    expect(documented.sort()).toEqual(served.sort());
  });

  it("gives the manifest reader the environment Windows needs (SystemRoot, TEMP and the like, in their own case), and none of the developer's settings", async () => {
    const { childEnv } = (await import(pathToFileURL(path.join(ROOT, "scripts", "child-env.mjs")).href)) as {
      childEnv(base: NodeJS.ProcessEnv, extra?: Record<string, string>): Record<string, string>;
    };
    const windows = {
      Path: "C:\\Windows\\system32;C:\\Program Files\\nodejs",
      PATHEXT: ".COM;.EXE;.BAT;.CMD",
      SystemRoot: "C:\\Windows",
      SYSTEMDRIVE: "C:",
      windir: "C:\\Windows",
      ComSpec: "C:\\Windows\\system32\\cmd.exe",
      TEMP: "C:\\Users\\me\\AppData\\Local\\Temp",
      TMP: "C:\\Users\\me\\AppData\\Local\\Temp",
      USERPROFILE: "C:\\Users\\me",
      LOCALAPPDATA: "C:\\Users\\me\\AppData\\Local",
      DATABASE_URL: "postgresql://me@localhost/real",
      SECRET_KEY: "the developer's own",
      WEBPUBSUB_CONNECTION_STRING: "Endpoint=...",
    };
    const env = childEnv(windows, { SECRET_KEY: "placeholder", DATABASE_URL: "postgresql://manifest.invalid/none" });
    const { DATABASE_URL: _db, SECRET_KEY: _key, WEBPUBSUB_CONNECTION_STRING: _wps, ...os } = windows;
    expect(env).toEqual({ ...os, SECRET_KEY: "placeholder", DATABASE_URL: "postgresql://manifest.invalid/none" });
    expect(readFileSync(path.join(ROOT, "scripts", "build.mjs"), "utf8")).toMatch(
      /execFileSync\(process\.execPath, \[reader\], \{ cwd: scratch, env, encoding: "utf8" \}\)/,
    );
    expect(readFileSync(path.join(ROOT, "scripts", "build.mjs"), "utf8")).toMatch(/const env = childEnv\(process\.env, \{/);
  });

  it("host.json has no route prefix and the v4 extension bundle", () => {
    const host = JSON.parse(readFileSync(path.join(ROOT, "host.json"), "utf8"));
    expect(host.version).toBe("2.0");
    expect(host.extensions.http.routePrefix).toBe("");
    expect(host.extensionBundle).toEqual({ id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" });
  });

  it(".funcignore keeps tests, benchmarks, the local host, infra and sources out of the package", () => {
    const ignored = readFileSync(path.join(ROOT, ".funcignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    for (const entry of ["test/", "bench/", "local/", "infra/", "local.settings.json"]) expect(ignored).toContain(entry);
    expect(existsSync(path.join(ROOT, "local.settings.example.json"))).toBe(true);
  });
});
