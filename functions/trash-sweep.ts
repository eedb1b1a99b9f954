import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { sweepTrash, TRASH_SWEEP_BATCH } from "../shared/data/copy-changes";
import { registerTimerFunction, type TimerFunction } from "../shared/http/registration";
import { pushFrames } from "../shared/realtime/realtime";

/** A run erases at most this many batches; the next run goes on. */
const MAX_BATCHES = 100;

/**
 * Empties the trash: copies in trash longer than TRASH_RETENTION_DAYS are erased as DELETE would
 * erase them (a message goes with its last copy), and their owners' devices hear messages_deleted.
 */
export const trashSweep: TimerFunction = {
  name: "trash-sweep",
  // Every ten minutes, at second 30 (apart from the idempotency sweep).
  schedule: "30 */10 * * * *",
  handler: async (context) => {
    let erased = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const swept = await sweepTrash(getConfig().trashRetentionDays);
      await pushFrames(swept.frames, context);
      erased += swept.erased;
      if (swept.erased < TRASH_SWEEP_BATCH) break;
    }
    if (erased > 0) context.log(`trash sweep erased ${erased} copies`);
  },
};

registerTimerFunction(trashSweep);
