import type { IncomingMessage } from "node:http";

/** Reads a whole request body, or null once it passes `maxBytes` (the caller answers 413). */
export async function readCappedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
