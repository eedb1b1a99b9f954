/**
 * What the throughput, mail and CPU-per-request benchmarks share: their integer knobs, the
 * request they repeat, starting a server script of this folder as a child process, logging in a
 * seeded user, and loading two servers in interleaved rounds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";

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
  /** Several clients: each request takes the next one's token and body, in turn. */
  clients?: { token: string; body?: string }[];
  /** The answers that count as done: 2xx (default), or 3xx for a route that redirects. */
  success?: "2xx" | "3xx";
  /** Run before each load of this scenario (warm-up and rounds, on both servers), outside its timed window. */
  prepare?: () => Promise<void>;
}

/** Starts bench/throughput/<script> (or a script at an absolute path), which prints `{"url":...}` once it listens. */
export function startServer(name: string, script: string, serverEnv: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", path.resolve(__dirname, script)], {
    env: serverEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running: the caller has no handle on a server that never answered.
      child.kill("SIGTERM");
      reject(new Error(`${name} did not start within 60 s`));
    }, 60_000);
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

export interface Sample {
  /** Successful (2xx, or 3xx where the scenario redirects) requests per second: what a client got done. */
  rps: number;
  p50: number;
  p99: number;
  /** 503 with Retry-After: load shed on purpose (the bounded password-hashing queue), counted apart. */
  shed: number;
  failures: number;
}

function inTurn(clients: NonNullable<Scenario["clients"]>) {
  let next = 0;
  return (request: autocannon.Request): autocannon.Request => {
    const client = clients[next++ % clients.length];
    return { ...request, headers: { ...request.headers, authorization: `Bearer ${client.token}` }, body: client.body ?? request.body };
  };
}

export async function load(url: string, scenario: Scenario, connections: number, seconds: number): Promise<Sample> {
  const headers: Record<string, string> = {};
  if (scenario.token) headers.authorization = `Bearer ${scenario.token}`;
  if (scenario.body !== undefined) headers["content-type"] = scenario.form ? "application/x-www-form-urlencoded" : "application/json";
  const result = await autocannon({
    url: url + scenario.path,
    method: scenario.method,
    headers,
    body: scenario.body,
    connections,
    duration: seconds,
    ...(scenario.clients ? { requests: [{ setupRequest: inTurn(scenario.clients) }] } : {}),
  });
  const shed = result.statusCodeStats?.["503"]?.count ?? 0;
  const done = result[scenario.success ?? "2xx"];
  return {
    rps: done / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    shed,
    failures: result["2xx"] + result.non2xx - done - shed + result.errors + result.timeouts,
  };
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mid = (samples: Sample[]): Sample => ({
  rps: median(samples.map((s) => s.rps)),
  p50: median(samples.map((s) => s.p50)),
  p99: median(samples.map((s) => s.p99)),
  shed: samples.reduce((n, s) => n + s.shed, 0),
  failures: samples.reduce((n, s) => n + s.failures, 0),
});

/**
 * Seconds each server serves a scenario before its rounds. V8 optimises a route's code only after
 * it has run many times: a server fresh to a route (the service's routes are longer paths than the
 * floor's) is measured before it reaches its steady pace unless the warm-up outlasts that.
 */
export const WARM_UP_S = intKnob("BENCH_WARMUP_S", 3);

/** Interleaved rounds of `a` and `b` after a warm-up of each (WARM_UP_S), alternating which goes first; the medians. */
export async function compare(
  a: string,
  b: string,
  scenario: Scenario,
  connections: number,
  { rounds, seconds }: { rounds: number; seconds: number },
  scenarioB = scenario,
): Promise<[Sample, Sample]> {
  const prepared = async (url: string, s: Scenario, duration: number) => {
    await s.prepare?.();
    return load(url, s, connections, duration);
  };
  await prepared(a, scenario, WARM_UP_S);
  await prepared(b, scenarioB, WARM_UP_S);
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      as.push(await prepared(a, scenario, seconds));
      bs.push(await prepared(b, scenarioB, seconds));
    } else {
      bs.push(await prepared(b, scenarioB, seconds));
      as.push(await prepared(a, scenario, seconds));
    }
  }
  return [mid(as), mid(bs)];
}
