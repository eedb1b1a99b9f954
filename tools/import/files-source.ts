/**
 * Reads an export of the original's SQL Server tables: users.jsonl and messages.jsonl, one JSON
 * object per line, as `bcp "SELECT (SELECT ... FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
 * FROM ..." queryout` writes them (README: "Coming from the original backend"). JSON escapes
 * newlines and control characters, so bodies cannot break the one-row-per-line framing.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { TextDecoder } from "node:util";
import { z } from "zod";

import { ID_MAX } from "../../shared/domain/schemas";
import type { OriginalMessage, OriginalSource, OriginalUser, SourceTotals } from "./original";

export const USERS_FILE = "users.jsonl";
export const MESSAGES_FILE = "messages.jsonl";

/** "auto" reads a byte-order mark, or UTF-16LE when the second byte is 0 (bcp -w), else UTF-8. */
export type FileEncoding = "auto" | string;

// The ids our tables can hold (an id beyond them could name no row).
const Id = z.int().min(1).max(ID_MAX);
const UserRow = z.object({ id: Id, username: z.string(), password_hash: z.string() });
const MessageRow = z.object({
  id: Id,
  sender_id: Id,
  recipient_id: Id,
  title: z.string(),
  body: z.string(),
  timestamp: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  // FOR JSON writes BIT as true/false; 0/1 are accepted from other tools.
  is_read: z
    .union([z.boolean(), z.literal(0), z.literal(1)])
    .nullish()
    .transform((v) => (v === null || v === undefined ? null : v === true || v === 1)),
});

export class ExportFileError extends Error {}

async function sniff(file: string): Promise<string> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    const b = head.subarray(0, bytesRead);
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return "utf-8";
    if (b[0] === 0xff && b[1] === 0xfe) return "utf-16le";
    if (b[0] === 0xfe && b[1] === 0xff) return "utf-16be";
    if (bytesRead >= 2 && b[1] === 0 && b[0] !== 0) return "utf-16le";
    return "utf-8";
  } finally {
    await handle.close();
  }
}

function decoderFor(label: string, file: string): TextDecoder {
  try {
    // fatal: bytes that are not valid in the encoding stop the import instead of becoming U+FFFD.
    return new TextDecoder(label, { fatal: true });
  } catch {
    throw new ExportFileError(`${file}: unknown encoding "${label}" (use a WHATWG label such as utf-8, utf-16le or windows-1252)`);
  }
}

/** The file's lines, decoded; numbered from 1. */
async function* lines(file: string, encoding: FileEncoding): AsyncIterable<{ text: string; n: number }> {
  const label = encoding === "auto" ? await sniff(file) : encoding;
  const decoder = decoderFor(label, file);
  let pending = "";
  let n = 0;
  const decode = (chunk: Buffer | undefined) => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch {
      throw new ExportFileError(
        `${file}: not valid ${label} after line ${n}; pass --encoding with the export's code page (for example windows-1252 for bcp -c without -C 65001)`,
      );
    }
  };
  for await (const chunk of createReadStream(file)) {
    pending += decode(chunk as Buffer);
    let end: number;
    while ((end = pending.indexOf("\n")) >= 0) {
      const text = pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
      n++;
      if (text.trim()) yield { text, n };
    }
  }
  pending += decode(undefined);
  if (pending.trim()) yield { text: pending.replace(/\r$/, ""), n: n + 1 };
}

async function* rows<T>(file: string, encoding: FileEncoding, schema: z.ZodType<T>): AsyncIterable<T> {
  for await (const { text, n } of lines(file, encoding)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ExportFileError(`${path.basename(file)} line ${n}: not JSON`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ExportFileError(`${path.basename(file)} line ${n}: ${issue.path.join(".") || "row"}: ${issue.message}`);
    }
    yield parsed.data;
  }
}

async function* batches<T>(source: AsyncIterable<T>, size: number): AsyncIterable<T[]> {
  let batch: T[] = [];
  for await (const row of source) {
    batch.push(row);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

export function openFilesSource(dir: string, encoding: FileEncoding = "auto"): OriginalSource {
  const usersFile = path.join(dir, USERS_FILE);
  const messagesFile = path.join(dir, MESSAGES_FILE);
  const readUsers = () => rows<OriginalUser>(usersFile, encoding, UserRow);
  const readMessages = () => rows<OriginalMessage>(messagesFile, encoding, MessageRow);
  return {
    description: `files in ${path.resolve(dir)} (${encoding} encoding)`,
    async totals(): Promise<SourceTotals> {
      const totals = { users: 0, messages: 0, maxUserId: 0, maxMessageId: 0 };
      for await (const u of readUsers()) {
        totals.users++;
        totals.maxUserId = Math.max(totals.maxUserId, u.id);
      }
      for await (const m of readMessages()) {
        totals.messages++;
        totals.maxMessageId = Math.max(totals.maxMessageId, m.id);
      }
      return totals;
    },
    // Users go in id order (the earliest keeps a contested name); an export has few enough to sort in memory.
    async *users(batchSize) {
      const all: OriginalUser[] = [];
      for await (const u of readUsers()) all.push(u);
      all.sort((a, b) => a.id - b.id);
      for (let i = 0; i < all.length; i += batchSize) yield all.slice(i, i + batchSize);
    },
    messages: (batchSize) => batches(readMessages(), batchSize),
    async close() {},
  };
}
