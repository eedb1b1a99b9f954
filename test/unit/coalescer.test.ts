import { describe, expect, it } from "vitest";

import { Coalescer, type CoalescerOptions } from "../../shared/data/coalescer";

interface Item {
  key: string;
  group?: string;
  fail?: boolean;
}

/** A coalescer whose writes wait until the test settles them, recording what each took. */
function held(options: Partial<CoalescerOptions<Item>> = {}) {
  const writes: { items: string[]; settle(): void }[] = [];
  const coalescer = new Coalescer<Item, string>(
    (items) =>
      new Promise((resolve, reject) => {
        writes.push({
          items: items.map((item) => item.key),
          settle: () =>
            items.some((item) => item.fail) ? reject(new Error("refused")) : resolve(items.map((item) => `wrote ${item.key}`)),
        });
      }),
    {
      maxBatch: 10,
      maxInFlight: 1,
      keyOf: (item) => item.key.split("#")[0],
      groupOf: (item) => item.group ?? "",
      retryAlone: () => true,
      ...options,
    },
  );
  return { coalescer, writes };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** What an item was answered: the write's answer, or the message it failed with. */
const outcome = (answer: Promise<string>) =>
  answer.then(
    (out) => out,
    (error: Error) => error.message,
  );

describe("Coalescer", () => {
  it("writes an item at once, alone, when nothing is in flight", () => {
    const { coalescer, writes } = held();
    void coalescer.run({ key: "a" });
    expect(writes.map((w) => w.items)).toEqual([["a"]]);
  });

  it("gathers the items that arrive while a write is in flight into the next write, and answers each its own", async () => {
    const { coalescer, writes } = held();
    const answers = ["a", "b", "c", "d"].map((key) => coalescer.run({ key }));
    expect(writes.map((w) => w.items)).toEqual([["a"]]);
    writes[0].settle();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([["a"], ["b", "c", "d"]]);
    writes[1].settle();
    expect(await Promise.all(answers)).toEqual(["wrote a", "wrote b", "wrote c", "wrote d"]);
  });

  it("has at most maxInFlight writes at once", async () => {
    const { coalescer, writes } = held({ maxInFlight: 2 });
    for (const key of ["a", "b", "c", "d"]) void coalescer.run({ key });
    expect(writes.map((w) => w.items)).toEqual([["a"], ["b"]]);
    writes[1].settle();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([["a"], ["b"], ["c", "d"]]);
  });

  it("keeps two items of one key in separate writes, in the order they came, and holds a write to maxBatch", async () => {
    const { coalescer, writes } = held({ maxBatch: 3 });
    for (const key of ["first", "u#1", "v", "u#2", "w", "x", "y"]) void coalescer.run({ key });
    writes[0].settle();
    await tick();
    expect(writes[1].items).toEqual(["u#1", "v", "w"]);
    writes[1].settle();
    await tick();
    expect(writes[2].items).toEqual(["u#2", "x", "y"]);
  });

  it("writes items of another group in a write of their own", async () => {
    const { coalescer, writes } = held();
    void coalescer.run({ key: "first" });
    for (const [key, group] of [
      ["a", "1"],
      ["b", "2"],
      ["c", "1"],
    ])
      void coalescer.run({ key, group });
    writes[0].settle();
    await tick();
    expect(writes[1].items).toEqual(["a", "c"]);
    writes[1].settle();
    await tick();
    expect(writes[2].items).toEqual(["b"]);
  });

  it("writes each item of a failed write again, alone: only the item the database refuses fails", async () => {
    const { coalescer, writes } = held();
    void coalescer.run({ key: "first" });
    const answers = [coalescer.run({ key: "a" }), coalescer.run({ key: "bad", fail: true }), coalescer.run({ key: "c" })].map(outcome);
    writes[0].settle();
    await tick();
    writes[1].settle();
    await tick();
    expect(writes.slice(2).map((w) => w.items)).toEqual([["a"], ["bad"], ["c"]]);
    for (const write of writes.slice(2)) write.settle();
    expect(await Promise.all(answers)).toEqual(["wrote a", "refused", "wrote c"]);
  });

  it("fails every item of a failed write, and those waiting, without writing them, when retryAlone says the failure is not theirs", async () => {
    const { coalescer, writes } = held({ retryAlone: () => false, maxBatch: 2 });
    void coalescer.run({ key: "first" });
    const answers = [coalescer.run({ key: "a" }), coalescer.run({ key: "bad", fail: true }), coalescer.run({ key: "waiting" })].map(
      outcome,
    );
    writes[0].settle();
    await tick();
    expect(writes[1].items).toEqual(["a", "bad"]);
    writes[1].settle();
    expect(await Promise.all(answers)).toEqual(["refused", "refused", "refused"]);
    expect(writes).toHaveLength(2);
  });
});
