/**
 * The statements a piece of work sends to PostgreSQL. Every statement of the app, through the pool
 * or a checked-out client, is one `Client.prototype.query` call: one round trip.
 */
import { Client } from "pg";
import { vi } from "vitest";

/** What `work` answers, and the text of each statement it sent, in order. */
export async function withStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const query = Client.prototype.query;
  const spy = vi.spyOn(Client.prototype, "query").mockImplementation(function (this: Client, ...args: unknown[]) {
    const config = args[0];
    statements.push(typeof config === "string" ? config : String((config as { text?: unknown }).text));
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query);
  try {
    return { result: await work(), statements };
  } finally {
    spy.mockRestore();
  }
}
