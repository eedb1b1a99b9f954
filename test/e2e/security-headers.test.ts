/**
 * Security headers over real HTTP: /docs may not be framed and runs only its own files, and no
 * JSON answer may be sniffed as something else. Swagger UI must still render under its policy:
 * checked in headless Chromium when the machine has it.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

import { useLocalStack } from "../support/stack";

const CHROMIUM = "/usr/bin/chromium";

const local = useLocalStack();
let base: string;

beforeAll(async () => {
  base = local.url;
});

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: string | null): Map<string, string[]> {
  const parsed = new Map<string, string[]>();
  for (const part of (header ?? "").split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) parsed.set(name.toLowerCase(), values);
  }
  return parsed;
}

describe("/docs", () => {
  it("forbids framing, sniffing and referrers, and runs scripts only from its own origin", async () => {
    for (const path of [
      "/docs",
      "/docs/",
      "/docs/index.html",
      "/docs/swagger-ui-bundle.js",
      "/docs/swagger-initializer.js",
      "/docs/swagger-ui.css",
    ]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      const csp = directives(res.headers.get("content-security-policy"));
      expect(csp.get("frame-ancestors"), path).toEqual(["'none'"]);
      expect(csp.get("script-src"), path).toEqual(["'self'"]);
      expect(csp.get("connect-src"), path).toEqual(["'self'"]);
      expect(csp.get("default-src"), path).toEqual(["'none'"]);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
      await res.arrayBuffer();
    }
  });

  it.skipIf(!existsSync(CHROMIUM))(
    "renders Swagger UI under that policy in headless Chromium",
    async () => {
      // --dump-dom prints the page once its scripts have run: with a policy that blocked the bundle,
      // the initializer or the fetch of /openapi.json, no operation would be listed.
      const { stdout } = await promisify(execFile)(
        CHROMIUM,
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--virtual-time-budget=15000",
          "--dump-dom",
          `${base}/docs`,
        ],
        { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
      );
      expect(stdout).toContain('class="swagger-ui"');
      expect(stdout).toMatch(/opblock-summary-path[^>]*data-path="\/users\/"/);
    },
    90_000,
  );
});

describe("/docs over HTTP", () => {
  it("answers names an object's prototype holds with 404, never 5xx", async () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const res = await fetch(`${base}/docs/${name}`);
      expect(res.status, name).toBe(404);
      expect(await res.json()).toEqual({ detail: "Not Found" });
    }
  });
});

describe("JSON answers", () => {
  it("all carry X-Content-Type-Options: nosniff, successes and errors alike", async () => {
    const answers = [
      await fetch(`${base}/health`),
      await fetch(`${base}/openapi.json`),
      await fetch(`${base}/users/`),
      await fetch(`${base}/users/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
      await fetch(`${base}/docs/no-such-file.js`),
      await fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ username: "nobody", password: "wrong password" }) }),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 200, 401, 422, 404, 401]);
    for (const res of answers) {
      expect(res.headers.get("content-type"), res.url).toContain("application/json");
      expect(res.headers.get("x-content-type-options"), res.url).toBe("nosniff");
      await res.arrayBuffer();
    }
  });
});
