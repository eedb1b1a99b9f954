/**
 * A wire-protocol gate in front of PGlite's socket server: it lets one connection's query at a
 * time into the database, from its first message to the server's ReadyForQuery, and keeps a
 * connection's turn for as long as it holds a transaction open.
 *
 * PGlite serves every connection from one session, and the socket server queues each protocol
 * message on its own, so another connection's Parse can land between this one's Parse and Bind
 * and replace the session's unnamed statement: a query then runs someone else's SQL (a login's
 * counter upsert returned no row). Whole queries, not messages, must take turns.
 */
import net from "node:net";

type Turn = () => void;

/** One connection in the database at a time, first come first served. */
class TurnTaking {
  private holder: object | undefined;
  private readonly waiting: { who: object; go: Turn }[] = [];

  take(who: object, go: Turn): void {
    if (this.holder === undefined || this.holder === who) {
      this.holder = who;
      go();
    } else this.waiting.push({ who, go });
  }

  give(who: object): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i].who === who) this.waiting.splice(i, 1);
    if (this.holder !== who) return;
    const next = this.waiting.shift();
    this.holder = next?.who;
    next?.go();
  }
}

// Frontend messages after which the server answers with ReadyForQuery: the end of one query.
const ENDS_A_QUERY = new Set(["S", "Q"]);
const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I': no transaction open

/** Splits a byte stream into protocol messages (type byte + int32 length that counts itself). */
class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);

  *read(chunk: Buffer): Generator<Buffer> {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 5) {
      const size = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < size) return;
      yield this.buffer.subarray(0, size);
      this.buffer = this.buffer.subarray(size);
    }
  }
}

function gate(client: net.Socket, upstreamPort: number, host: string, turns: TurnTaking): void {
  const upstream = net.connect(upstreamPort, host);
  const who = {};
  const fromClient = new MessageReader();
  const fromServer = new MessageReader();
  let started = false; // the startup exchange has no type bytes and touches no statement
  let query: Buffer[] = [];
  const pending: Buffer[][] = [];
  let sending = false;

  const sendNext = () => {
    if (sending || pending.length === 0) return;
    sending = true;
    const next = Buffer.concat(pending.shift()!);
    turns.take(who, () => upstream.write(next));
  };

  client.on("data", (chunk: Buffer) => {
    if (!started) {
      upstream.write(chunk);
      return;
    }
    for (const message of fromClient.read(chunk)) {
      query.push(Buffer.from(message));
      const type = String.fromCharCode(message[0]);
      if (type === "X") {
        upstream.write(message);
        continue;
      }
      if (ENDS_A_QUERY.has(type)) {
        pending.push(query);
        query = [];
        sendNext();
      }
    }
  });

  upstream.on("data", (chunk: Buffer) => {
    client.write(chunk);
    for (const message of fromServer.read(chunk)) {
      if (message[0] !== READY_FOR_QUERY) continue;
      if (!started) {
        started = true;
        continue;
      }
      sending = false;
      if (message[5] === IDLE) turns.give(who);
      sendNext();
    }
  });

  const close = () => {
    turns.give(who);
    client.destroy();
    upstream.destroy();
  };
  client.on("close", close);
  upstream.on("close", close);
  client.on("error", close);
  upstream.on("error", close);
}

/** Listens on host:port and passes connections to the PGlite socket server at upstreamPort. */
export async function startQueryGate(host: string, port: number, upstreamPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const turns = new TurnTaking();
  const clients = new Set<net.Socket>();
  const server = net.createServer((client) => {
    clients.add(client);
    client.on("close", () => clients.delete(client));
    gate(client, upstreamPort, host, turns);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.destroy();
        server.close(() => resolve());
      }),
  };
}
