/**
 * bcrypt on a few worker threads, so a login never stalls the thread that serves every other
 * request (bcryptjs's async API only slices the work on that same thread). At most `threads`
 * hashes run at once; the rest wait in a queue bounded by time (hashing-budget.ts) and fair
 * between client addresses (start-time fair queuing), so one address flooding logins fills only
 * its own share. The threads run at a lower priority (nice), so the request thread runs first
 * when the CPU is short. bcryptjs stays the implementation so the original's hashes verify.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import bcrypt from "bcryptjs";

import type { PasswordHashingSettings } from "../config/config";
import { ERRORS, HttpError } from "../domain/errors";
import { HashingBudget, REFUSAL_HOLD_MS, type HashingLimits } from "./hashing-budget";

/**
 * Niceness of hashing threads (0 normal, 19 lowest): the request thread outweighs a hashing thread
 * on a shared core, and logins are not starved (docs/benchmarks.md, `npm run bench:login`).
 */
export const HASHING_THREAD_NICENESS = 5;

type ReadFile = (file: string) => string;
const readText: ReadFile = (file) => readFileSync(file, "utf8");

/** A cgroup CPU quota in CPUs (v2 cpu.max, else v1 cfs files), or null when there is none. */
function cgroupCpuQuota(read: ReadFile): number | null {
  try {
    const [quota, period] = read("/sys/fs/cgroup/cpu.max").trim().split(/\s+/);
    return quota === "max" ? null : Number(quota) / Number(period) || null;
  } catch {
    // not cgroup v2
  }
  try {
    const quota = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
    const period = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
    return quota > 0 && period > 0 ? quota / period : null;
  } catch {
    return null;
  }
}

/**
 * CPUs this process may really use: the cores it may run on, lowered by a container's CPU quota
 * (Node counts cores, not quotas; a quota exceeded stalls every thread, the request thread too).
 */
export function cpuBudget(read: ReadFile = readText, cores = availableParallelism()): number {
  const quota = cgroupCpuQuota(read);
  return quota === null ? cores : Math.max(1, Math.min(cores, Math.floor(quota)));
}

/** "auto": every CPU but one for hashing (one stays for requests), at least one, at most four. */
export function resolveThreads(threads: PasswordHashingSettings["threads"], cpus = cpuBudget()): number {
  return threads === "auto" ? Math.max(1, Math.min(4, cpus - 1)) : threads;
}

// An unknown client is a client of its own on every call.
const clientKey = (client: HashingClient): string | symbol => client ?? Symbol("unknown client");

type Job = { op: "hash"; password: string; cost: number } | { op: "compare"; password: string; hash: string };
type Reply = { ok: true; result: string | boolean } | { ok: false; error: string };

// The thread's code: bundled beside the app by the build (dist/), or run from source.
export const WORKER_FILE =
  ["password-worker.js", "password-worker.cjs"].map((name) => path.join(__dirname, name)).find((file) => existsSync(file)) ?? "";

/**
 * Whose hash it is, for fair sharing: the client's address key, or undefined when the address is
 * unknown (each such request is then a client of its own, never lumped with the others).
 */
export type HashingClient = string | undefined;

export interface PasswordHasher {
  hash(password: string, cost: number, client?: HashingClient): Promise<string>;
  /** True if `password` matches `hash`; false for a wrong password or a malformed hash. */
  compare(password: string, hash: string, client?: HashingClient): Promise<boolean>;
  /**
   * Rejects with the 503 that a hash asked for now would get: a caller refuses before its other
   * work (database round trips, throttle counters), so that shedding load costs next to nothing.
   */
  admit(client?: HashingClient): Promise<void>;
  close(): Promise<void>;
}

interface Task {
  job: Job;
  client: ClientQueue;
  /** Start tag of fair queuing: the client's share of service used when this task is its turn. */
  tag: number;
  resolve(result: string | boolean): void;
  reject(error: Error): void;
  /** Set when the task starts on a thread: ends its timing. */
  timed?: () => void;
}

interface ClientQueue {
  key: string | symbol;
  tasks: Task[];
  running: number;
  /** The tag its next task gets (at least the virtual time then). */
  nextTag: number;
}

export class WorkerPasswordHasher implements PasswordHasher {
  private readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Task>();
  /** Clients with hashes waiting or running, in order of arrival (ties go to the earlier). */
  private readonly clients = new Map<string | symbol, ClientQueue>();
  /** Fair queuing's virtual time: the tag of the task started last. */
  private virtualTime = 0;
  private queued = 0;
  readonly budget: HashingBudget;

  /** `now` is the clock hash durations are measured with (tests pass their own). */
  constructor(limits: HashingLimits, now?: () => number) {
    if (!(limits.threads >= 1)) throw new Error("a worker pool needs at least one thread");
    this.budget = new HashingBudget(limits, now);
  }

  get threads(): number {
    return this.budget.limits.threads;
  }

  /**
   * Threads one client may hold at once: all but one when there are several, so that a hash of
   * another client never waits for one already running (bcrypt cannot be interrupted).
   */
  get threadsPerClient(): number {
    return Math.max(1, this.threads - 1);
  }

  hash(password: string, cost: number, client?: HashingClient): Promise<string> {
    return this.run({ op: "hash", password, cost }, client) as Promise<string>;
  }

  compare(password: string, hash: string, client?: HashingClient): Promise<boolean> {
    return this.run({ op: "compare", password, hash }, client) as Promise<boolean>;
  }

  admit(client?: HashingClient): Promise<void> {
    return this.refusal(clientKey(client)) ?? Promise.resolve();
  }

  /** Hashes running or waiting now. */
  get pending(): number {
    return this.running.size + this.queued;
  }

  /** The tag a new task of this client would get. */
  private tagFor(key: string | symbol): number {
    return Math.max(this.virtualTime, this.clients.get(key)?.nextTag ?? 0);
  }

  /** Waiting hashes that a new one of this client would wait behind: its own, and others' with an earlier or equal tag. */
  private aheadOf(key: string | symbol): { ahead: number; own: number } {
    const tag = this.tagFor(key);
    let ahead = 0;
    let own = 0;
    for (const client of this.clients.values()) {
      if (client.key === key) own = client.tasks.length;
      else ahead += client.tasks.filter((t) => t.tag <= tag).length;
    }
    return { ahead: ahead + own, own };
  }

  /**
   * The 503 for a hash asked for now, or undefined if it would be taken; held REFUSAL_HOLD_MS
   * before it is sent, so that clients asking again at once cannot crowd out the hashing.
   */
  private refusal(key: string | symbol): Promise<never> | undefined {
    try {
      const { ahead, own } = this.aheadOf(key);
      this.budget.admit(this.running.size, ahead, own);
      // And within the threads this client may hold: its own backlog waits for them alone.
      const client = this.clients.get(key);
      if (client) this.budget.admit(client.running, own, own, this.threadsPerClient);
      return undefined;
    } catch (error) {
      return new Promise((_, reject) => setTimeout(() => reject(error as Error), REFUSAL_HOLD_MS));
    }
  }

  private run(job: Job, client: HashingClient): Promise<string | boolean> {
    const key = clientKey(client);
    // Decided now, not in a later tick: hashes asked for together must each see the others queued.
    const refused = this.refusal(key);
    if (refused) return refused;
    return new Promise((resolve, reject) => {
      const queue = this.clients.get(key) ?? { key, tasks: [], running: 0, nextTag: 0 };
      this.clients.set(key, queue);
      const tag = this.tagFor(key);
      queue.nextTag = tag + 1;
      const task: Task = { job, client: queue, tag, resolve, reject };
      const worker = queue.running < this.threadsPerClient ? this.freeWorker() : undefined;
      if (worker) this.start(worker, task);
      else {
        queue.tasks.push(task);
        this.queued++;
      }
    });
  }

  /** The waiting task with the lowest tag (the earliest client on a tie) whose client may take a thread, taken off its queue. */
  private takeNext(): Task | undefined {
    let best: ClientQueue | undefined;
    for (const client of this.clients.values()) {
      if (client.tasks.length === 0 || client.running >= this.threadsPerClient) continue;
      if (!best || client.tasks[0].tag < best.tasks[0].tag) best = client;
    }
    const task = best?.tasks.shift();
    if (task) this.queued--;
    return task;
  }

  /** A client with nothing waiting or running is forgotten: its next hash starts at the virtual time. */
  private release(client: ClientQueue): void {
    if (client.tasks.length === 0 && client.running === 0) this.clients.delete(client.key);
  }

  private freeWorker(): Worker | undefined {
    return this.idle.pop() ?? (this.workers.size < this.threads ? this.spawn() : undefined);
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_FILE, { workerData: { niceness: HASHING_THREAD_NICENESS } });
    this.workers.add(worker);
    worker.on("message", (reply: Reply) => this.settle(worker, reply));
    worker.on("error", (error) => this.lose(worker, error));
    worker.on("exit", (code) => this.lose(worker, new Error(`password hashing thread exited (${code})`)));
    return worker;
  }

  private start(worker: Worker, task: Task): void {
    this.running.set(worker, task);
    task.client.running++;
    this.virtualTime = Math.max(this.virtualTime, task.tag);
    task.timed = this.budget.time();
    worker.ref(); // a hash in flight keeps the process alive; an idle pool does not
    worker.postMessage(task.job);
  }

  private settle(worker: Worker, reply: Reply): void {
    const task = this.running.get(worker);
    this.running.delete(worker);
    if (task) this.finished(task);
    task?.timed?.();
    if (reply.ok) task?.resolve(reply.result);
    else task?.reject(new Error(`password hashing failed: ${reply.error}`));
    this.next(worker);
  }

  private finished(task: Task): void {
    task.client.running--;
    this.release(task.client);
  }

  private next(worker: Worker): void {
    const task = this.takeNext();
    if (task) return this.start(worker, task);
    worker.unref();
    this.idle.push(worker);
  }

  /** A thread that died fails its own task only; queued work moves to a fresh thread. */
  private lose(worker: Worker, error: Error): void {
    if (!this.workers.delete(worker)) return;
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    const task = this.running.get(worker);
    this.running.delete(worker);
    if (task) this.finished(task);
    // The caller's request is not at fault: a 503 it may retry at once (the thread is replaced).
    task?.reject(Object.assign(new HttpError(503, ERRORS.passwordHashingInterrupted, { "Retry-After": "1" }), { cause: error }));
    const next = this.takeNext();
    if (next) this.start(this.spawn(), next);
  }

  async close(): Promise<void> {
    const workers = [...this.workers];
    this.workers.clear();
    this.idle.length = 0;
    const waiting = [...this.clients.values()].flatMap((client) => client.tasks);
    for (const task of [...this.running.values(), ...waiting]) task.reject(new Error("password hasher closed"));
    this.running.clear();
    this.clients.clear();
    this.queued = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** bcryptjs's async API on the request thread: only for PASSWORD_HASH_THREADS=0 (and comparisons). */
export class InlinePasswordHasher implements PasswordHasher {
  hash(password: string, cost: number): Promise<string> {
    return bcrypt.hash(password, cost);
  }

  async compare(password: string, hash: string): Promise<boolean> {
    try {
      return await bcrypt.compare(password, hash);
    } catch {
      return false;
    }
  }

  async admit(): Promise<void> {} // unbounded: only for comparison

  async close(): Promise<void> {}
}

export function createPasswordHasher(settings: PasswordHashingSettings): PasswordHasher {
  const threads = resolveThreads(settings.threads);
  return threads === 0
    ? new InlinePasswordHasher()
    : new WorkerPasswordHasher({ threads, queueMax: settings.queueMax, maxWaitMs: settings.maxWaitMs });
}
