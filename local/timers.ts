/**
 * Runs the registered timer functions on their schedules, as the Functions host does: NCRONTAB
 * expressions of six fields (seconds first) in UTC, a day matching both its day-of-month and
 * day-of-week fields, and never two runs of one function at once (a run still going when the
 * next is due skips it). croner parses and schedules them: maintained, no dependencies, and it
 * reads six-field expressions with seconds, as NCRONTAB writes them.
 */
import { randomUUID } from "node:crypto";
import { InvocationContext } from "@azure/functions";
import { Cron } from "croner";

import type { RegisteredFunction } from "./functions-core";

export interface RunningTimers {
  /** The timer functions being run, by name. */
  names: string[];
  /** When the function runs next, or null for a name not scheduled here. */
  nextRun(name: string): Date | null;
  stop(): void;
}

const isTimer = (fn: RegisteredFunction) => fn.trigger.type.toLowerCase() === "timertrigger";

/** The schedule as Cron reads it, or an error naming the function: a bad one stops the host, as in Azure. */
function schedule(fn: RegisteredFunction, run: () => Promise<void>): Cron {
  const expression = fn.trigger.schedule ?? "";
  if (expression.trim().split(/\s+/).length !== 6)
    throw new Error(`Timer function "${fn.name}": the schedule "${expression}" is not a six-field NCRONTAB expression`);
  return new Cron(expression, { mode: "6-part", timezone: "Etc/UTC", domAndDow: true, protect: true, unref: true }, run);
}

export function startTimers(functions: RegisteredFunction[], log: (line: string) => void = () => {}): RunningTimers {
  const jobs = new Map<string, Cron>();
  try {
    for (const fn of functions.filter(isTimer)) {
      jobs.set(
        fn.name,
        schedule(fn, async () => {
          const started = Date.now();
          const context = new InvocationContext({
            invocationId: randomUUID(),
            functionName: fn.name,
            logHandler: (level, ...args) => log(`[${level}] ${fn.name}: ${args.map(String).join(" ")}`),
          });
          try {
            // What the host hands a timer function; ours read only the context.
            await fn.handler({ isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: {} }, context);
            log(`timer ${fn.name} ran in ${Date.now() - started}ms`);
          } catch (error) {
            log(`[error] timer ${fn.name}: ${(error as Error).stack ?? error}`);
          }
        }),
      );
    }
  } catch (error) {
    for (const job of jobs.values()) job.stop();
    throw error;
  }
  return {
    names: [...jobs.keys()],
    nextRun: (name) => jobs.get(name)?.nextRun() ?? null,
    stop: () => {
      for (const job of jobs.values()) job.stop();
    },
  };
}
