/** Runs an azure.yaml hook the way azd does: the script azd writes for it, started as azd starts it on this host. */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { hookInvocation, type HookConfig, type HostOs } from "./azd-rules";

const HOST: HostOs = process.platform === "win32" ? "windows" : process.platform === "darwin" ? "darwin" : "linux";

/** Writes the script; returns how to start it and how to clean up. `configOs` picks the hook's block (posix or windows). */
function prepare(release: string, hook: HookConfig, configOs: HostOs, cwd: string) {
  const invocation = hookInvocation(release, configOs, hook, cwd, HOST);
  const dir = mkdtempSync(path.join(tmpdir(), "azd-hook-"));
  const script = path.join(dir, `azd-hook${invocation.extension}`);
  writeFileSync(script, invocation.content);
  chmodSync(script, 0o755);
  const [command, ...args] = invocation.argv.map((a) => (a === "SCRIPT" ? script : a));
  return { command, args, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Returns stdout; throws on a non-zero exit (the error's `status` is the exit code). */
export function runHookAsAzd(release: string, hook: HookConfig, configOs: HostOs, cwd: string, env: NodeJS.ProcessEnv): string {
  const { command, args, cleanup } = prepare(release, hook, configOs, cwd);
  try {
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } finally {
    cleanup();
  }
}

/** The same without blocking this process (for hooks that call a server running in it). */
export async function runHookAsAzdAsync(
  release: string,
  hook: HookConfig,
  configOs: HostOs,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const { command, args, cleanup } = prepare(release, hook, configOs, cwd);
  try {
    return (await promisify(execFile)(command, args, { cwd, env, encoding: "utf8" })).stdout;
  } finally {
    cleanup();
  }
}
