/** Admission to the hashing queue by expected wait: a fake clock gives every hash the duration the test says. */
import { describe, expect, it } from "vitest";

import { DURATION_WEIGHT, HashingBudget, type HashingLimits } from "../../shared/auth/hashing-budget";
import { ERRORS } from "../../shared/domain/errors";
import { HttpError } from "../../shared/http/http";

function budgetWith(limits: Partial<HashingLimits> = {}) {
  const clock = { now: 0 };
  const budget = new HashingBudget({ threads: 1, maxWaitMs: 2_000, queueMax: 100, ...limits }, () => clock.now);
  /** Times one hash that the clock says took `ms`. */
  const hashTook = (ms: number) => {
    const done = budget.time();
    clock.now += ms;
    done();
  };
  return { budget, hashTook };
}

/** The 503 `admit` throws, or null when it admits. */
function refusal(budget: HashingBudget, running: number, queued: number): HttpError | null {
  try {
    budget.admit(running, queued);
    return null;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
}

describe("the hashing budget", () => {
  it("admits while a thread is free, whatever the queue", () => {
    const { budget } = budgetWith({ threads: 2 });
    expect(budget.expectedWaitMs(1, 0)).toBe(0);
    expect(refusal(budget, 0, 0)).toBeNull();
    expect(refusal(budget, 1, 0)).toBeNull();
  });

  it("expects a wait of the jobs ahead times the mean hash time, shared by the threads", () => {
    const { budget, hashTook } = budgetWith({ threads: 2 });
    hashTook(300);
    expect(budget.meanHashMs).toBe(300);
    expect(budget.expectedWaitMs(2, 0)).toBe(300);
    expect(budget.expectedWaitMs(2, 4)).toBe(900);
  });

  it("refuses a hash that would wait past the budget with 503, the detail and a Retry-After of the expected wait", () => {
    const { budget, hashTook } = budgetWith({ threads: 1, maxWaitMs: 2_000 });
    hashTook(300);
    // One running and five waiting: 1.8 s ahead; six waiting: 2.1 s.
    expect(refusal(budget, 1, 5)).toBeNull();
    const refused = refusal(budget, 1, 6);
    expect(refused).toMatchObject({ status: 503, detail: ERRORS.passwordHashingBusy, headers: { "Retry-After": "3" } });
    expect(refusal(budget, 1, 20)?.headers["Retry-After"]).toBe("7"); // 21 x 0.3 s = 6.3 s
  });

  it("admits exactly up to the budget, and with more threads proportionally more", () => {
    const one = budgetWith({ threads: 1, maxWaitMs: 1_000 });
    one.hashTook(250);
    expect(refusal(one.budget, 1, 3)).toBeNull(); // 4 x 250 = 1000: at the budget
    expect(refusal(one.budget, 1, 4)).not.toBeNull();
    const three = budgetWith({ threads: 3, maxWaitMs: 1_000 });
    three.hashTook(250);
    expect(refusal(three.budget, 3, 9)).toBeNull(); // 12 x 250 / 3 = 1000
    expect(refusal(three.budget, 3, 10)).not.toBeNull();
  });

  it("follows a moving average of recent durations: a slower machine soon admits fewer, a faster one more", () => {
    const { budget, hashTook } = budgetWith({ threads: 1, maxWaitMs: 2_000 });
    hashTook(200);
    expect(refusal(budget, 1, 8)).toBeNull(); // 9 x 200 = 1.8 s
    hashTook(1_000);
    expect(budget.meanHashMs).toBeCloseTo(200 + DURATION_WEIGHT * 800);
    for (let i = 0; i < 20; i++) hashTook(1_000);
    expect(budget.meanHashMs).toBeGreaterThan(990);
    expect(refusal(budget, 1, 1)).toBeNull(); // 2 x ~1 s
    expect(refusal(budget, 1, 2)?.headers["Retry-After"]).toBe("3");
    for (let i = 0; i < 40; i++) hashTook(100);
    expect(budget.meanHashMs).toBeLessThan(101);
    expect(refusal(budget, 1, 18)).toBeNull(); // 19 x ~0.1 s
  });

  it("applies only the count cap until a hash has been timed, then the budget", () => {
    const { budget, hashTook } = budgetWith({ threads: 2, maxWaitMs: 1_000, queueMax: 50 });
    expect(budget.expectedWaitMs(2, 0)).toBeUndefined();
    expect(refusal(budget, 2, 49)).toBeNull();
    expect(refusal(budget, 2, 50)).toMatchObject({ status: 503, headers: { "Retry-After": "1" } });
    hashTook(100);
    expect(refusal(budget, 2, 18)).toBeNull(); // 20 x 100 / 2 = 1000
    expect(refusal(budget, 2, 19)).toMatchObject({ status: 503, headers: { "Retry-After": "2" } });
  });

  it("keeps the count cap as a backstop when hashes are fast", () => {
    const { budget, hashTook } = budgetWith({ threads: 1, maxWaitMs: 60_000, queueMax: 10 });
    hashTook(1);
    expect(refusal(budget, 1, 9)).toBeNull();
    expect(refusal(budget, 1, 10)).toMatchObject({ status: 503, detail: ERRORS.passwordHashingBusy, headers: { "Retry-After": "1" } });
  });

  it("with a budget of zero never queues: a hash runs on a free thread or is refused", () => {
    const { budget, hashTook } = budgetWith({ threads: 1, maxWaitMs: 0 });
    hashTook(50);
    expect(refusal(budget, 0, 0)).toBeNull();
    expect(refusal(budget, 1, 0)).not.toBeNull();
  });
});
