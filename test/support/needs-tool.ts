/**
 * The one skip guard for tests that need a tool outside Node (a Bicep CLI, PowerShell 7,
 * Chromium). Where the tool cannot be had, the file reports itself skipped and names what to
 * install; with CI set it never skips, so CI fails for want of the tool instead of passing without it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";

import { ROOT } from "./clone";

export interface Tool {
  /** Empty when the tool can be had here, else what is missing and how to install it. */
  missing(): string;
}

/** Looks once per process. */
const once = (look: () => string): Tool => {
  let found: string | undefined;
  return { missing: () => (found ??= look()) };
};

export const BICEP = once(() => {
  const check = spawnSync(process.execPath, [path.join(ROOT, "scripts", "bicep.mjs"), "available"], { cwd: ROOT, encoding: "utf8" });
  return check.status === 0 ? "" : check.stdout.trim();
});

export const PWSH_INSTALL = "install PowerShell 7: dotnet tool install --tool-path <dir> PowerShell --version 7.6.9, and put <dir> on PATH";
export const PWSH = once(() => {
  const pwsh = spawnSync("pwsh", ["-NoLogo", "-NoProfile", "-Command", "$PSVersionTable.PSVersion.ToString()"], { encoding: "utf8" });
  return pwsh.status === 0 ? "" : `no pwsh on PATH; ${PWSH_INSTALL}`;
});

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM = once(() =>
  existsSync(CHROMIUM_PATH) ? "" : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`,
);

/** True when `file` must skip for want of `tool` (never with CI set); then warns `<file> skipped: <what to install>`. */
export function skipWithout(tool: Tool, file: string): boolean {
  const missing = tool.missing();
  const skip = missing !== "" && !process.env.CI;
  if (skip) console.warn(`${file} skipped: ${missing}`);
  return skip;
}

/**
 * Declares `name`'s tests, given what `load` resolves to (loaded only when they run: loading may
 * need the tool), or, where `tool` cannot be had, one skipped test naming what to install.
 */
export function describeWithTool<T>(tool: Tool, file: string, name: string, load: () => Promise<T>, body: (loaded: T) => void): void {
  if (skipWithout(tool, file)) {
    describe(name, () => {
      it.skip(`${file} skipped: ${tool.missing()}`, () => {});
    });
    return;
  }
  describe(name, async () => {
    body(await load());
  });
}
