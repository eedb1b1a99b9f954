/**
 * Natural batching (group commit done by the app): while a write of one kind is in flight, the
 * requests for that kind that arrive wait, and go to the database together in the next statement,
 * so many of them share one statement's fixed cost and one commit. A request that arrives when
 * nothing waits goes at once, alone: batching adds no delay when the app is idle, and batches grow
 * only as the load does.
 *
 * Not DataLoader: it batches what was asked within one tick of the event loop (a wait even when
 * idle, and no batching across a statement's round trip), and it cannot keep two requests that
 * would write the same row apart.
 */
export interface CoalescerOptions<I> {
  /** The most items one write takes. */
  maxBatch: number;
  /** How many writes may be in flight at once. */
  maxInFlight: number;
  /** Items with the same key never share a write (they would change the same row twice); without it, any may. */
  keyOf?: (item: I) => string | number;
  /** Items share a write only when they are of the same group (say, the statement's own values). */
  groupOf(item: I): string;
  /**
   * Whether the items of a write that failed go again, each alone, so that one item's failure (a
   * value the database refused, a deadlock with another write) does not fail the others. Not
   * when the database cannot serve: that would multiply the load on it, and the items waiting
   * then fail at once with the same error.
   */
  retryAlone(error: unknown): boolean;
}

interface Waiting<I, O> {
  item: I;
  resolve(out: O): void;
  reject(error: unknown): void;
}

export class Coalescer<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private inFlight = 0;

  /** `write` answers each item, in the order given; it either answers all or fails as a whole. */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly options: CoalescerOptions<I>,
  ) {}

  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      void this.settle(batch).finally(() => {
        this.inFlight -= 1;
        this.drain();
      });
    }
  }

  /** The first waiting item, and those after it of its group and other keys, in the order they came. */
  private take(): Waiting<I, O>[] {
    const { maxBatch, keyOf, groupOf } = this.options;
    const group = groupOf(this.waiting[0].item);
    const keys = new Set<string | number>();
    const batch: Waiting<I, O>[] = [];
    const left: Waiting<I, O>[] = [];
    for (const waiting of this.waiting) {
      const key = keyOf?.(waiting.item);
      if (batch.length < maxBatch && (key === undefined || !keys.has(key)) && groupOf(waiting.item) === group) {
        if (key !== undefined) keys.add(key);
        batch.push(waiting);
      } else {
        left.push(waiting);
      }
    }
    this.waiting = left;
    return batch;
  }

  private async settle(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const out = await this.write(batch.map((waiting) => waiting.item));
      batch.forEach((waiting, i) => waiting.resolve(out[i]));
    } catch (error) {
      if (!this.options.retryAlone(error)) {
        // Those waiting would meet the same failure, one write after another: they get it now.
        const failed = [...batch, ...this.waiting];
        this.waiting = [];
        for (const waiting of failed) waiting.reject(error);
        return;
      }
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      await Promise.all(batch.map((waiting) => this.write([waiting.item]).then(([out]) => waiting.resolve(out), waiting.reject)));
    }
  }
}
