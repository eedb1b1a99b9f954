/**
 * What the throughput and CPU-per-request benchmarks share: their integer knobs, the request
 * they repeat, starting a server script of this folder as a child process, and logging in a
 * seeded user.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";

import { BENCH_PASSWORD } from "./seed";

export function intKnob(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

export interface Server {
  name: string;
  url: string;
  process: ChildProcess;
}

/** One request autocannon repeats; `push`: served by the servers that push to Web PubSub. */
export interface Scenario {
  name: string;
  method: "GET" | "POST";
  path: string;
  token?: string;
  body?: string;
  form?: boolean;
  push?: boolean;
}

/** Starts bench/throughput/<script>, which prints `{"url":...}` once it listens. */
export function startServer(name: string, script: string, serverEnv: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, script)], {
    env: serverEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      clearTimeout(timer);
      resolve({ name, url: (JSON.parse(line) as { url: string }).url, process: child });
    });
  });
}

/** A seeded user's access token. */
export async function login(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}/token`, { method: "POST", body: new URLSearchParams({ username, password: BENCH_PASSWORD }) });
  if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
