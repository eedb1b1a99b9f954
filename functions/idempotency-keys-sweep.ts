import "../shared/http/startup";

import { sweepAllExpiredKeys } from "../shared/data/idempotency";
import { registerTimerFunction, type TimerFunction } from "../shared/http/registration";

/** Deletes expired Idempotency-Key records, so the table holds about a day of keys (shared/data/idempotency.ts). */
export const idempotencyKeysSweep: TimerFunction = {
  name: "idempotency-keys-sweep",
  // Every ten minutes, at second 0.
  schedule: "0 */10 * * * *",
  handler: async (context) => {
    const swept = await sweepAllExpiredKeys();
    if (swept > 0) context.log(`swept ${swept} expired idempotency keys`);
  },
};

registerTimerFunction(idempotencyKeysSweep);
