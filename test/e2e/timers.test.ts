/** The local host runs timer functions on their NCRONTAB schedules, as the Functions host does. */
import type { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";

import type { RegisteredFunction } from "../../local/functions-core";
import { startTimers } from "../../local/timers";
import { useLocalStack } from "../support/stack";

const timer = (
  name: string,
  schedule: string,
  handler: (info: unknown, context: InvocationContext) => Promise<void>,
): RegisteredFunction => ({
  name,
  trigger: { type: "timerTrigger", direction: "in", schedule },
  handler: handler as RegisteredFunction["handler"],
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("startTimers", () => {
  it("runs a timer function on its schedule with an invocation context, and an HTTP function never", async () => {
    const runs: string[] = [];
    const running = startTimers([
      timer("every-second", "* * * * * *", async (_info, context) => void runs.push(context.functionName)),
      { name: "web", trigger: { type: "httpTrigger", direction: "in", route: "web" }, handler: async () => runs.push("web") },
    ]);
    try {
      expect(running.names).toEqual(["every-second"]);
      const deadline = Date.now() + 10_000;
      while (runs.length < 2 && Date.now() < deadline) await sleep(100);
      expect(runs.slice(0, 2)).toEqual(["every-second", "every-second"]);
    } finally {
      running.stop();
    }
    const after = runs.length;
    await sleep(1_500);
    expect(runs.length).toBe(after);
  });

  it("goes on after a run throws, logging it, and never overlaps a run still going", async () => {
    const lines: string[] = [];
    let active = 0;
    let most = 0;
    let calls = 0;
    const running = startTimers(
      [
        timer("slow-and-failing", "* * * * * *", async () => {
          calls++;
          active++;
          most = Math.max(most, active);
          await sleep(1_500);
          active--;
          throw new Error("sweep failed");
        }),
      ],
      (line) => lines.push(line),
    );
    try {
      const deadline = Date.now() + 15_000;
      while (calls < 2 && Date.now() < deadline) await sleep(100);
    } finally {
      running.stop();
    }
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(most).toBe(1);
    expect(lines.some((line) => line.includes("[error] timer slow-and-failing") && line.includes("sweep failed"))).toBe(true);
  }, 20_000);

  it("refuses a schedule that is not six NCRONTAB fields, naming the function", () => {
    expect(() => startTimers([timer("five-fields", "*/5 * * * *", async () => {})])).toThrow(/five-fields.*six-field NCRONTAB/);
    expect(() => startTimers([timer("nonsense", "a b c d e f", async () => {})])).toThrow();
  });

  it("reads schedules in UTC, a day matching both day fields (NCRONTAB), not either (Vixie cron)", () => {
    // 12:00:00 UTC on a 13th that is a Friday.
    const running = startTimers([timer("friday-13th", "0 0 12 13 * 5", async () => {})]);
    try {
      const next = running.nextRun("friday-13th")!;
      expect(next.getUTCHours()).toBe(12);
      expect(next.getUTCDate()).toBe(13);
      expect(next.getUTCDay()).toBe(5);
    } finally {
      running.stop();
    }
  });
});

describe("the local stack", () => {
  const local = useLocalStack();

  it("schedules the app's timer functions: the idempotency key sweep, every ten minutes", () => {
    expect(local.stack.timers?.names).toContain("idempotency-keys-sweep");
    const next = local.stack.timers!.nextRun("idempotency-keys-sweep")!;
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(10 * 60 * 1000);
    expect(next.getUTCSeconds()).toBe(0);
    expect(next.getUTCMinutes() % 10).toBe(0);
  });
});
