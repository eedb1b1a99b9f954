/**
 * Azure Database for PostgreSQL's sign-in for managed identities, in front of a local server:
 * TLS required, the password is an Entra access token checked for signature, issuer,
 * audience, expiry and the identity the role belongs to; only then is the session handed to
 * the real server (which trusts local connections) under the same role and database.
 * Local development and tests only.
 */
import net from "node:net";
import tls from "node:tls";

import { listen } from "../listen";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const MAX_STARTUP_BYTES = 10_000;
const MAX_PASSWORD_BYTES = 64 * 1024;

export interface PostgresProxyOptions {
  tls: { key: string; cert: string };
  /** The real server, which must trust the identity roles' connections from this machine. */
  upstream: { host: string; port: number };
  /** Role name -> whether this token signs it in (and why not). */
  verify(role: string, token: string): { ok: true } | { ok: false; reason: string };
  host?: string;
  port?: number;
  log?: (line: string) => void;
}

export interface PostgresProxy {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Reads whole protocol messages from a socket that may deliver them in any chunking. */
class Reader {
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private failed: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.failed ??= new Error("the client went away");
    this.wake?.();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onEnd);
    socket.on("error", this.onEnd);
  }

  async take(size: number): Promise<Buffer> {
    while (this.buffer.length < size) {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    const head = this.buffer.subarray(0, size);
    this.buffer = this.buffer.subarray(size);
    return head;
  }

  /** Stops reading; returns what arrived beyond the messages taken. */
  detach(): Buffer {
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onEnd);
    this.socket.off("error", this.onEnd);
    return this.buffer;
  }
}

/** An untyped startup-phase packet: length, then the body. */
async function readStartupPacket(reader: Reader): Promise<Buffer> {
  const length = (await reader.take(4)).readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_BYTES) throw new Error("malformed startup packet");
  return reader.take(length - 4);
}

async function readTyped(reader: Reader, type: string, max: number): Promise<Buffer> {
  const header = await reader.take(5);
  const length = header.readInt32BE(1);
  if (String.fromCharCode(header[0]) !== type || length < 4 || length > max) throw new Error(`expected a '${type}' message`);
  return reader.take(length - 4);
}

function parseStartup(body: Buffer): Map<string, string> | null {
  if (body.readInt32BE(0) !== PROTOCOL_3) return null;
  const parts = body.subarray(4).toString("utf8").split("\0");
  const params = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length && parts[i] !== ""; i += 2) params.set(parts[i], parts[i + 1]);
  return params;
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function errorResponse(code: string, text: string): Buffer {
  const fields = [`SFATAL`, `VFATAL`, `C${code}`, `M${text}`].map((f) => Buffer.from(`${f}\0`, "utf8"));
  return message("E", Buffer.concat([...fields, Buffer.from([0])]));
}

function startupPacket(params: Map<string, string>): Buffer {
  const pairs =
    [...params]
      .flatMap(([k, v]) => [k, v])
      .map((s) => `${s}\0`)
      .join("") + "\0";
  const body = Buffer.concat([Buffer.alloc(4), Buffer.from(pairs, "utf8")]);
  body.writeInt32BE(PROTOCOL_3, 0);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4, 0);
  return Buffer.concat([length, body]);
}

const AUTH_CLEARTEXT = message("R", Buffer.from([0, 0, 0, 3]));

/** The server's first answer: AuthenticationOk means it trusts us with this role. */
async function openUpstream(options: PostgresProxyOptions, params: Map<string, string>): Promise<{ socket: net.Socket; first: Buffer }> {
  const socket = net.connect(options.upstream.port, options.upstream.host);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(startupPacket(params));
  const reader = new Reader(socket);
  const header = await reader.take(5);
  const rest = await reader.take(header.readInt32BE(1) - 4);
  const first = Buffer.concat([header, rest, reader.detach()]);
  if (String.fromCharCode(header[0]) === "R" && rest.readInt32BE(0) !== 0) {
    socket.destroy();
    throw new Error("the local PostgreSQL server asks the identity's role for a password; it must trust local connections");
  }
  return { socket, first };
}

async function serve(options: PostgresProxyOptions, context: tls.SecureContext, raw: net.Socket): Promise<void> {
  const log = options.log ?? (() => {});
  let reader = new Reader(raw);
  let client: net.Socket = raw;
  let startup = await readStartupPacket(reader);
  const code = startup.readInt32BE(0);
  if (code === CANCEL_REQUEST) return void raw.end();
  if (code === GSSENC_REQUEST) {
    raw.write("N");
    startup = await readStartupPacket(reader);
  }
  if (startup.readInt32BE(0) !== SSL_REQUEST) {
    // As Azure's require_secure_transport: no session in clear text.
    raw.end(errorResponse("28000", "SSL connection is required. Please specify SSL options and retry."));
    return;
  }
  reader.detach();
  raw.write("S");
  const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
  secure.on("error", () => secure.destroy());
  client = secure;
  reader = new Reader(secure);
  const params = parseStartup(await readStartupPacket(reader));
  const role = params?.get("user");
  if (!params || !role) {
    secure.end(errorResponse("08P01", "invalid startup packet: no user"));
    return;
  }
  client.write(AUTH_CLEARTEXT);
  const token = (await readTyped(reader, "p", MAX_PASSWORD_BYTES)).toString("utf8").replace(/\0$/, "");
  const verdict = options.verify(role, token);
  if (!verdict.ok) {
    log(`postgres proxy: refused a token for role "${role}": ${verdict.reason}`);
    secure.end(errorResponse("28P01", `password authentication failed for user "${role}"`));
    return;
  }
  let upstream: { socket: net.Socket; first: Buffer };
  try {
    upstream = await openUpstream(options, params);
  } catch (error) {
    log(`postgres proxy: ${(error as Error).message}`);
    secure.end(errorResponse("08006", "the server behind the local sign-in is unavailable"));
    return;
  }
  const pending = reader.detach();
  if (secure.destroyed) {
    // The client gave up (its connection timeout) while the server was answering: no orphan session.
    upstream.socket.destroy();
    return;
  }
  secure.write(upstream.first);
  if (pending.length) upstream.socket.write(pending);
  upstream.socket.on("error", () => secure.destroy());
  upstream.socket.pipe(secure);
  secure.pipe(upstream.socket);
  secure.on("close", () => upstream.socket.destroy());
  upstream.socket.on("close", () => secure.destroy());
}

export async function startPostgresProxy(options: PostgresProxyOptions): Promise<PostgresProxy> {
  const context = tls.createSecureContext({ key: options.tls.key, cert: options.tls.cert });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on("close", () => sockets.delete(raw));
    raw.on("error", () => raw.destroy());
    serve(options, context, raw).catch(() => raw.destroy());
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, options.port ?? 0, host);
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close() {
      closing ??= new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      });
      return closing;
    },
  };
}
