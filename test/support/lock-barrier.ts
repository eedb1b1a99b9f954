/**
 * A barrier for race tests: a transaction of the test's own holds row locks while the racing
 * changes start, so they queue behind it and meet at the lock together when it lets go, rather
 * than each finding it free in turn (the window a race needs is otherwise a statement wide).
 */
import { Client } from "pg";

export interface HeldLocks {
  /** Resolves once `count` backends of the database wait on a lock; releases and throws if they never do. */
  queued(count: number): Promise<void>;
  /** Ends the holding transaction: the queued changes go on. */
  release(): Promise<void>;
}

const connect = async (url: string): Promise<Client> => {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
};

/** Holds the rows `lockingQuery` (a SELECT ... FOR UPDATE) locks until release(). */
export async function holdLocks(url: string, lockingQuery: string): Promise<HeldLocks> {
  const [holder, watcher] = await Promise.all([connect(url), connect(url)]);
  let released: Promise<void> | undefined;
  const release = () =>
    (released ??= holder
      .query("COMMIT")
      .then(() => undefined)
      .finally(() => Promise.all([holder.end(), watcher.end()])));
  await holder.query("BEGIN");
  await holder.query(lockingQuery);
  return {
    async queued(count) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        // Each query its own transaction: pg_stat_activity is read once per transaction.
        const { rows } = await watcher.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        if (rows[0].n >= count) return;
        if (Date.now() > deadline) {
          await release();
          throw new Error(`only ${rows[0].n} of ${count} changes queued behind the held locks`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    release,
  };
}

/** Starts `race` behind the held rows, lets go once `count` of its changes queue, and returns its outcome. */
export async function raceBehindLocks<T>(url: string, lockingQuery: string, count: number, race: () => Promise<T>): Promise<T> {
  const held = await holdLocks(url, lockingQuery);
  const raced = race();
  await held.queued(count);
  await held.release();
  return raced;
}
