/**
 * The stack's PostgreSQL server dies with the stack, even one killed with SIGKILL (no handler
 * runs): the watchdog stops it (local/postgres/server.ts). And should a server still be found
 * running for a dead stack (its watchdog killed too), the next start stops it and starts afresh
 * on the same data.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { temporaryDataDir } from "../../local/postgres/server";
import { ROOT } from "../../local/stack";
import { registerOverHttp, TEST_PASSWORD } from "../support/api";

const dataDir = temporaryDataDir("stack-crash-");
const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) child.kill("SIGKILL");
  rmSync(path.dirname(dataDir), { recursive: true, force: true });
});

interface StackProcess {
  child: ChildProcess;
  url: string;
}

function startStackProcess(): Promise<StackProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/support/stack-process.ts"), dataDir], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve({ child, url: (JSON.parse(line) as { url: string }).url });
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => reject(new Error(`the stack process ended (${code}) before it was ready:\n${output}`)));
  });
}

const postmasterPid = (): number => Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

async function loginStatus(url: string, username: string): Promise<number> {
  const answer = await fetch(`${url}/token`, { method: "POST", body: new URLSearchParams({ username, password: TEST_PASSWORD }) });
  return answer.status;
}

describe("a stack killed with SIGKILL", () => {
  it("takes its PostgreSQL server with it, and the next start serves the same data", async () => {
    const first = await startStackProcess();
    await registerOverHttp(first.url, "survivor");
    const server = postmasterPid();
    await killed(first.child);
    await expect.poll(() => isAlive(server), { timeout: 15_000, interval: 100 }).toBe(false);

    const second = await startStackProcess();
    expect(await loginStatus(second.url, "survivor")).toBe(200);
    const restarted = postmasterPid();
    await killed(second.child);
    await expect.poll(() => isAlive(restarted), { timeout: 15_000, interval: 100 }).toBe(false);
  }, 90_000);

  it("with its watchdog killed too, leaves an orphaned server that the next start stops before starting its own", async () => {
    const first = await startStackProcess();
    await registerOverHttp(first.url, "orphan_owner");
    const orphan = postmasterPid();
    // The watchdog is the shell waiting to stop this server: kill it first, then the stack.
    const watchdogs = execPs().filter((line) => line.includes(`kill -INT ${orphan}`));
    expect(watchdogs).toHaveLength(1);
    process.kill(Number(watchdogs[0].trim().split(/\s+/)[0]), "SIGKILL");
    await killed(first.child);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(isAlive(orphan)).toBe(true);

    const second = await startStackProcess();
    expect(isAlive(orphan)).toBe(false);
    expect(postmasterPid()).not.toBe(orphan);
    expect(await loginStatus(second.url, "orphan_owner")).toBe(200);
    await killed(second.child);
  }, 90_000);
});

function execPs(): string[] {
  return execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n");
}
