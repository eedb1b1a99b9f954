/** bcrypt on worker threads: the request thread stays free, the cap holds, a lost thread is replaced. */
import { performance } from "node:perf_hooks";
import bcrypt from "bcryptjs";
import { afterEach, describe, expect, it } from "vitest";

import { REFUSAL_HOLD_MS } from "../../shared/auth/hashing-budget";
import {
  cpuBudget,
  InlinePasswordHasher,
  resolveThreads,
  WorkerPasswordHasher,
  type PasswordHasher,
} from "../../shared/auth/password-hasher";
import { ERRORS } from "../../shared/domain/errors";
import { HttpError } from "../../shared/http/http";

const limits = (threads: number) => ({ threads, maxWaitMs: 60_000, queueMax: 100 });
const open: PasswordHasher[] = [];
const track = <T extends PasswordHasher>(hasher: T): T => {
  open.push(hasher);
  return hasher;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

/** Share of wall time the calling thread spent busy while `work` ran (0 = idle, 1 = never free). */
async function busyShare(work: () => Promise<unknown>): Promise<number> {
  const start = performance.eventLoopUtilization();
  await work();
  return performance.eventLoopUtilization(start).utilization;
}

describe("the worker-thread hasher", () => {
  it("hashes and verifies, including $2a$, $2b$ and $2y$ hashes from elsewhere, and a bad hash never matches", async () => {
    const hasher = track(new WorkerPasswordHasher(limits(2)));
    const hash = await hasher.hash("s3cret-pass", 4);
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await hasher.compare("s3cret-pass", hash)).toBe(true);
    expect(await hasher.compare("other", hash)).toBe(false);
    const legacy = bcrypt.hashSync("legacy-password", 4);
    for (const prefix of ["$2a$", "$2b$", "$2y$"])
      expect(await hasher.compare("legacy-password", legacy.replace(/^\$2.\$/, prefix)), prefix).toBe(true);
    for (const bad of ["", "plain-text", "$2b$04$short", "$2x$99$" + "a".repeat(53)])
      expect(await hasher.compare("legacy-password", bad), bad).toBe(false);
  });

  it("leaves the request thread free while it hashes (bcryptjs's async API keeps it busy)", async () => {
    const worker = track(new WorkerPasswordHasher(limits(1)));
    await worker.hash("warm-up", 4); // thread start-up is not what is measured
    const offThread = await busyShare(() => worker.hash("password", 11));
    const inline = await busyShare(() => new InlinePasswordHasher().hash("password", 11));
    expect(offThread).toBeLessThan(0.5);
    expect(inline).toBeGreaterThan(0.5);
  });

  it("runs at most `threads` hashes at once, queues what starts within the budget and refuses more with a quick 503", async () => {
    let now = 0;
    const hasher = track(new WorkerPasswordHasher({ threads: 1, maxWaitMs: 250, queueMax: 100 }, () => now));
    const warm = hasher.hash("warm-up", 4);
    now += 100; // the clock says this hash took 100 ms, whatever it really took
    await warm;
    expect(hasher.budget.meanHashMs).toBe(100);
    // One running; waits ahead of a newcomer: 100 ms, then 200, then 300 > 250.
    const accepted = [hasher.hash("one", 4), hasher.hash("two", 4), hasher.hash("three", 4)];
    expect(hasher.pending).toBe(3);
    const upFront = hasher.admit(); // what a fourth would get, asked before it is asked for
    const asked = performance.now();
    const fourth = hasher.hash("four", 4);
    expect(hasher.pending).toBe(3);
    await expect(upFront).rejects.toMatchObject({ status: 503 });
    const refused = await fourth.then(
      () => null,
      (e: unknown) => e,
    );
    expect(performance.now() - asked).toBeGreaterThanOrEqual(REFUSAL_HOLD_MS - 5); // held, so that clients retrying at once cannot crowd out the hashing
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ status: 503, detail: ERRORS.passwordHashingBusy, headers: { "Retry-After": "1" } });
    const hashes = await Promise.all(accepted);
    expect(await hasher.compare("three", hashes[2])).toBe(true);
    expect(hasher.pending).toBe(0);
  });

  it("shares the threads fairly between clients: another client's hash is admitted and runs next, past one client's backlog", async () => {
    let now = 0;
    const hasher = track(new WorkerPasswordHasher({ threads: 1, maxWaitMs: 250, queueMax: 100 }, () => now));
    const warm = hasher.hash("warm-up", 4);
    now += 100;
    await warm;
    const done: string[] = [];
    const hash = (client: string, name: string) => hasher.hash(name, 4, client).then(() => done.push(name));
    // The flooder's backlog: running, then waits of 100 and 200 ms; a fourth would wait 300 > 250.
    const flood = [hash("10.0.0.1", "a1"), hash("10.0.0.1", "a2"), hash("10.0.0.1", "a3")];
    const floodRefused = hasher.admit("10.0.0.1");
    // Another address waits only for the hash running now, and is served next.
    const otherAdmitted = hasher.admit("10.0.0.2");
    const other = hash("10.0.0.2", "b1");
    await expect(floodRefused).rejects.toMatchObject({ status: 503 });
    await expect(otherAdmitted).resolves.toBeUndefined();
    await Promise.all([...flood, other]);
    expect(done).toEqual(["a1", "b1", "a2", "a3"]);
  });

  it("with several threads keeps one free of any single client: another client's hash starts at once", async () => {
    let now = 0;
    const hasher = track(new WorkerPasswordHasher({ threads: 3, maxWaitMs: 250, queueMax: 100 }, () => now));
    const warm = hasher.hash("warm-up", 4);
    now += 100;
    await warm;
    const flood = [1, 2, 3, 4, 5, 6].map((i) => hasher.hash(`a${i}`, 4, "10.0.0.1"));
    expect(hasher["running"].size).toBe(2); // two of three threads; the others wait for them
    // Within the flooder's two threads: 2 running and 4 queued, so a seventh would wait 300 ms > 250.
    const floodRefused = hasher.admit("10.0.0.1");
    const other = hasher.hash("b1", 4, "10.0.0.2");
    expect(hasher["running"].size).toBe(3);
    await expect(floodRefused).rejects.toMatchObject({ status: 503 });
    await Promise.all([...flood, other]);
  });

  it("fails only the task of a thread that dies, with a 503, and hashes on a fresh thread afterwards", async () => {
    const hasher = track(new WorkerPasswordHasher(limits(1)));
    const doomed = hasher.hash("doomed", 12);
    const queued = hasher.hash("queued", 4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([...hasher["workers"]].map((w) => w.terminate()));
    // A 503 the client may retry, never a 500: the request was not at fault.
    await expect(doomed).rejects.toMatchObject({
      status: 503,
      detail: ERRORS.passwordHashingInterrupted,
      cause: { message: expect.stringMatching(/exited/) },
    });
    expect(await hasher.compare("queued", await queued)).toBe(true);
    expect(await hasher.compare("after", await hasher.hash("after", 4))).toBe(true);
  });

  it("counts the CPUs a container's quota allows, not the cores it can see", () => {
    const files = (entries: Record<string, string>) => (file: string) => {
      if (!(file in entries)) throw new Error(`ENOENT ${file}`);
      return entries[file];
    };
    expect(cpuBudget(files({}), 8)).toBe(8);
    expect(cpuBudget(files({ "/sys/fs/cgroup/cpu.max": "max 100000\n" }), 8)).toBe(8);
    expect(cpuBudget(files({ "/sys/fs/cgroup/cpu.max": "100000 100000\n" }), 8)).toBe(1);
    expect(cpuBudget(files({ "/sys/fs/cgroup/cpu.max": "250000 100000\n" }), 8)).toBe(2);
    expect(cpuBudget(files({ "/sys/fs/cgroup/cpu.max": "50000 100000\n" }), 8)).toBe(1);
    expect(cpuBudget(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "200000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" }), 8)).toBe(
      2,
    );
    expect(cpuBudget(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" }), 8)).toBe(8);
  });

  it("sizes itself to every CPU but one by default, between one and four", () => {
    expect(resolveThreads("auto", 1)).toBe(1);
    expect(resolveThreads("auto", 2)).toBe(1);
    expect(resolveThreads("auto", 4)).toBe(3);
    expect(resolveThreads("auto", 64)).toBe(4);
    expect(resolveThreads(0, 8)).toBe(0);
    expect(resolveThreads(6, 2)).toBe(6);
  });
});
