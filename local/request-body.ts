import type { IncomingMessage } from "node:http";

/** Reads a whole request body, or null once it passes `maxBytes` (the caller answers 413). */
export async function readCappedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  // Most requests have no body: framed by neither Transfer-Encoding nor a Content-Length above 0
  // (RFC 9112, 6.3), or already parsed to their end. Node has often not parsed that end yet when
  // the handler starts, and reading it would take an async iterator and a turn of the event loop.
  const framed = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
  if (!framed || (req.complete && req.readableLength === 0)) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
