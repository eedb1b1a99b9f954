/** Runs an azure.yaml hook the way azd does: the script azd writes for it, started as azd starts it on this host. */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { hookInvocation, type HookConfig, type HostOs } from "./azd-rules";

/** `configOs` picks the hook's block (posix or windows); the runner is this host's. Returns stdout; throws on a non-zero exit. */
export function runHookAsAzd(release: string, hook: HookConfig, configOs: HostOs, cwd: string, env: NodeJS.ProcessEnv): string {
  const host = process.platform === "win32" ? "windows" : process.platform === "darwin" ? "darwin" : "linux";
  const invocation = hookInvocation(release, configOs, hook, cwd, host);
  const dir = mkdtempSync(path.join(tmpdir(), "azd-hook-"));
  const script = path.join(dir, `azd-hook${invocation.extension}`);
  writeFileSync(script, invocation.content);
  chmodSync(script, 0o755);
  try {
    const [command, ...args] = invocation.argv.map((a) => (a === "SCRIPT" ? script : a));
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
