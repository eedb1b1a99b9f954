import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { sweepIdleSessions } from "../shared/data/sessions";
import { registerTimerFunction, type TimerFunction } from "../shared/http/registration";

/** Sessions deleted per statement, so a large backlog never holds one long lock. */
export const SESSION_SWEEP_BATCH = 1_000;

/**
 * Deletes sessions idle past SESSION_IDLE_DAYS (their refresh tokens go with them). Their refresh is
 * refused from that moment anyway; the sweep only keeps the table to live sessions.
 */
export const sessionsSweep: TimerFunction = {
  name: "sessions-sweep",
  // Every hour, at minute 17 (away from the other timers' second 0 of each minute).
  schedule: "0 17 * * * *",
  handler: async (context) => {
    let swept = 0;
    for (;;) {
      const batch = await sweepIdleSessions(getConfig().sessionIdleDays, SESSION_SWEEP_BATCH);
      swept += batch.length;
      if (batch.length < SESSION_SWEEP_BATCH) break;
    }
    if (swept > 0) context.log(`swept ${swept} idle sessions`);
  },
};

registerTimerFunction(sessionsSweep);
