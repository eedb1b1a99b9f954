/**
 * Every change to several copies locks them in one order (COPY_LOCK_ORDER), whatever order its
 * plan would scan them in. The setup makes the scan order the reverse of the lock order: the later
 * message's copy comes first both in the heap (the earlier one is rewritten after it) and in the
 * unread index (newest first). A barrier holds the earlier copy while a bulk change queues on it
 * first and the change under test second; when it lets go, a change that locked the later copy
 * first while waiting holds what the bulk change needs next: a deadlock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { deleteAccount } from "../../shared/data/account-deletion";
import { changeCopies, deleteCopies, sweepTrash } from "../../shared/data/copy-changes";
import { getPool } from "../../shared/data/db";
import { markAllRead } from "../../shared/data/mailbox";
import { sendMessage } from "../../shared/data/messages";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { holdLocks } from "../support/lock-barrier";
import { newUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

/** Two unread inbox copies of `owner`'s, the earlier one rewritten so that it lies after the later. */
async function twoCopies(owner: number, sender: number): Promise<[number, number]> {
  const ids: number[] = [];
  for (const title of ["earlier", "later"]) {
    const out = await sendMessage(sender, { to: [owner], title, body: "b" });
    if (out.kind !== "sent") throw new Error(`send failed: ${out.kind}`);
    ids.push(out.message.id);
  }
  await getPool().query("UPDATE message_copies SET is_starred = NOT is_starred WHERE user_id = $1 AND message_id = $2", [owner, ids[0]]);
  await getPool().query("UPDATE message_copies SET is_starred = NOT is_starred WHERE user_id = $1 AND message_id = $2", [owner, ids[0]]);
  return [ids[0], ids[1]];
}

/** Holds the earlier copy; queues a bulk read of both, then `other`; lets go; both must finish. */
async function raceWithBulkChange(owner: number, [earlier, later]: [number, number], other: () => Promise<unknown>) {
  const held = await holdLocks(db.url, `SELECT 1 FROM message_copies WHERE user_id = ${owner} AND message_id = ${earlier} FOR UPDATE`);
  const bulk = changeCopies(owner, [earlier, later], { is_read: true });
  await held.queued(1);
  const raced = other();
  await held.queued(2);
  await held.release();
  const outcomes = await Promise.allSettled([bulk, raced]);
  expect(outcomes.map((o) => (o.status === "rejected" ? String(o.reason) : "done"))).toEqual(["done", "done"]);
}

describe("changes to several copies", () => {
  it("mark all read locks them in the order a bulk change does", async () => {
    const [owner, sender] = await Promise.all([newUser("lockorder"), newUser("lockorder")]);
    const ids = await twoCopies(owner.id, sender.id);
    await raceWithBulkChange(owner.id, ids, () => markAllRead(owner.id));
  });

  it("a bulk delete locks them in the order a bulk change does", async () => {
    const [owner, sender] = await Promise.all([newUser("lockorder"), newUser("lockorder")]);
    const ids = await twoCopies(owner.id, sender.id);
    await raceWithBulkChange(owner.id, ids, () => deleteCopies(owner.id, [ids[1], ids[0]]));
    const { rows } = await getPool().query("SELECT 1 FROM message_copies WHERE user_id = $1", [owner.id]);
    expect(rows).toEqual([]);
  });

  it("the trash sweep locks them in the order a bulk change does", async () => {
    const [owner, sender] = await Promise.all([newUser("lockorder"), newUser("lockorder")]);
    const ids = await twoCopies(owner.id, sender.id);
    await changeCopies(owner.id, ids, { folder: "trash" });
    await getPool().query("UPDATE message_copies SET trashed_at = now() - interval '40 days' WHERE user_id = $1", [owner.id]);
    // The later copy first again: the folder change above rewrote both in id order.
    await getPool().query("UPDATE message_copies SET is_starred = NOT is_starred WHERE user_id = $1 AND message_id = $2", [
      owner.id,
      ids[0],
    ]);
    await raceWithBulkChange(owner.id, ids, () => sweepTrash(30));
  });

  it("deleting the account locks them in the order a bulk change does", async () => {
    const [owner, sender] = await Promise.all([newUser("lockorder"), newUser("lockorder")]);
    const ids = await twoCopies(owner.id, sender.id);
    await raceWithBulkChange(owner.id, ids, () => deleteAccount(owner.id));
  });
});
