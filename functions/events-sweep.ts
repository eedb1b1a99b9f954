import "../shared/http/startup";

import { registerTimerFunction, type TimerFunction } from "../shared/http/registration";
import { sweepRealtime } from "../shared/realtime/sweep";

/**
 * Every minute: closes sockets whose access token has expired (so one outlives its token by at
 * most about a minute), deletes events older than EVENT_RETENTION_DAYS in bounded batches, and
 * forgets connections whose disconnected event was lost (shared/realtime/sweep.ts).
 */
export const eventsSweep: TimerFunction = {
  name: "events-sweep",
  schedule: "0 * * * * *",
  handler: async (context) => {
    const swept = await sweepRealtime(context);
    if (swept.socketGroupsClosed + swept.eventsDeleted + swept.staleConnectionsForgotten > 0) {
      context.log(`realtime sweep: ${JSON.stringify(swept)}`);
    }
  },
};

registerTimerFunction(eventsSweep);
