/** HTTP/1.1 over a bare socket: for requests no HTTP client will send (bad Host, broken request lines, stray bytes). */
import net from "node:net";

export interface RawResponse {
  /** 0 when the server closed without answering. */
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    const size = lineEnd < 0 ? 0 : parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function parse(raw: Buffer): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return { status: 0, headers: {}, text: raw.toString("latin1"), json: undefined };
  const [statusLine, ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = headers["content-length"] === undefined ? undefined : Number(headers["content-length"]);
  const rest = raw.subarray(end + 4, length === undefined ? undefined : end + 4 + length);
  const text = (/chunked/i.test(headers["transfer-encoding"] ?? "") ? dechunk(rest) : rest).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, text, json };
}

/**
 * Sends `bytes` as they are (a string is sent as latin1, one byte per character) and reads the
 * first response, until the server closes or a whole response with Content-Length arrived.
 */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks)));
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms to ${JSON.stringify(bytes.toString().slice(0, 120))}`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const soFar = Buffer.concat(chunks);
      const end = soFar.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(soFar.subarray(0, end < 0 ? 0 : end).toString("latin1"))?.[1];
      if (end >= 0 && length !== undefined && soFar.length >= end + 4 + Number(length)) finish();
    });
    // A reset after the answer arrived still counts as the answer.
    socket.on("error", finish);
    socket.on("close", finish);
    // Not end(): Node's server aborts requests from a client that half-closes.
    socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  });
}

export interface RawExchange extends RawResponse {
  /** Every byte the server sent after the first response's head, until it closed. */
  afterHead: Buffer;
}

/**
 * Sends `bytes` (a Buffer as is; send `Connection: close` in it) and reads everything until the
 * server closes: for answers whose length the head does not tell, such as a HEAD's (no body).
 */
export function rawExchange(port: number, bytes: Buffer, timeoutMs = 5_000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const end = raw.indexOf("\r\n\r\n");
      resolve({ ...parse(raw), afterHead: end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4) });
    });
    socket.write(bytes);
  });
}
