/** Starts local/azure-identity/app.ts as a child process with exactly the given settings. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

/** The line app.ts prints, followed by its URL, once it serves. */
export const READY = "ready ";
const ROOT = path.resolve(__dirname, "../..");
const START_TIMEOUT_MS = 60_000;
/** What any process needs to run at all; nothing of the app's own configuration. */
const PROCESS_BASICS = ["PATH", "HOME", "TMPDIR", "LANG", "TZ", "SYSTEMROOT"];

export interface RunningApp {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every line the app printed so far. */
  readonly output: string[];
  stop(): Promise<void>;
}

export function spawnApp(settings: Record<string, string>, options: { port?: number; echo?: boolean } = {}): Promise<RunningApp> {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PROCESS_BASICS) if (process.env[name] !== undefined) env[name] = process.env[name];
  Object.assign(env, settings, { PORT: String(options.port ?? 0) });
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "app.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the app did not start within ${START_TIMEOUT_MS} ms:\n${output.join("\n")}`));
    }, START_TIMEOUT_MS);
    const onLine = (line: string) => {
      output.push(line);
      if (options.echo) console.log(line);
      if (line.startsWith(READY)) {
        clearTimeout(timer);
        resolve({ url: line.slice(READY.length).trim(), child, output, stop });
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream?.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        lines.forEach(onLine);
      });
    }
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited with code ${code}:\n${output.join("\n")}`));
    });
  });
}
