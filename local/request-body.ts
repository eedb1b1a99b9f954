import type { IncomingMessage } from "node:http";

/** Reads a whole request body, or null once it passes `maxBytes` (the caller answers 413). */
export async function readCappedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  // Most requests have no body, and Node has parsed their end already.
  if (req.complete && req.readableLength === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
