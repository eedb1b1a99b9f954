/**
 * The statements a piece of work sends to PostgreSQL. Every statement of the app, through the pool
 * or a checked-out client, is one `Client.prototype.query` call: one round trip.
 */
import { Client } from "pg";
import { vi } from "vitest";

/** A statement as sent: its text, its name when prepared, and its values. */
export interface SentStatement {
  text: string;
  name?: string;
  values: unknown[];
}

/** What `work` answers, and each statement it sent, in order: `statements` their texts, `sent` the whole of each. */
export async function withStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[]; sent: SentStatement[] }> {
  const sent: SentStatement[] = [];
  const query = Client.prototype.query;
  const spy = vi.spyOn(Client.prototype, "query").mockImplementation(function (this: Client, ...args: unknown[]) {
    const [config, values] = args as [string | { text?: unknown; name?: string; values?: unknown[] }, unknown];
    sent.push(
      typeof config === "string"
        ? { text: config, values: Array.isArray(values) ? values : [] }
        : { text: String(config.text), name: config.name, values: config.values ?? (Array.isArray(values) ? values : []) },
    );
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query);
  try {
    return { result: await work(), statements: sent.map((s) => s.text), sent };
  } finally {
    spy.mockRestore();
  }
}
