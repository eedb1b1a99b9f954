import WebSocket from "ws";

export type Frame = Record<string, unknown>;

/** A connected client socket that records every frame it receives. */
export class SocketProbe {
  readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static open(url: string, protocols?: string[], options?: WebSocket.ClientOptions): Promise<SocketProbe> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, protocols, options);
      const probe = new SocketProbe(socket);
      socket.once("open", () => resolve(probe));
      socket.once("unexpected-response", (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      socket.once("error", reject);
    });
  }

  /** Resolves with the first frame matching `match`, or fails after `timeoutMs`. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }
}

export const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
