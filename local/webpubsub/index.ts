/**
 * A local stand-in for Azure Web PubSub that the real `@azure/web-pubsub` SDK and plain
 * WebSocket clients talk to unchanged. Local development and tests only: production uses
 * the real service.
 */
export { startWebPubSubStandIn } from "./server";

export interface WebPubSubStandInOptions {
  /** Defaults to "127.0.0.1". */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The AccessKey of the connection string. */
  accessKey: string;
  /** URL to POST system events (connected, disconnected) for a hub to, or undefined for none. */
  eventHandlerUrl?: (hub: string) => string | undefined;
  /** Serve HTTPS and WSS with this certificate (a bearer token only travels over TLS). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Entra mode, as a resource with local auth disabled: REST calls must carry a bearer token
   * `acceptBearer` accepts, and the access key only signs client tokens (`:generateToken`).
   */
  acceptBearer?: (token: string) => boolean;
  /** `json.reliable.webpubsub.azure.v1`: how long a session whose socket dropped waits for its client (default 60 s). */
  sessionRetentionMs?: number;
  /** `json.reliable.webpubsub.azure.v1`: unacked messages a session may hold before it is closed and dropped (default 1,000). */
  maxUnackedMessages?: number;
  /** `json.reliable.webpubsub.azure.v1`: bytes of unacked frames a session may hold (default 16 MB). */
  maxUnackedBytes?: number;
  /**
   * REST sends are answered 202 first and delivered after it, each connection after a random wait
   * of up to this many milliseconds (default 3), so order across connections is not kept, as on
   * Azure. A client must wait for its frame, never assume it arrived with the 202.
   */
  deliveryJitterMs?: number;
  /** Optional artificial delay added before answering REST calls (for tests of a slow service). */
  restDelayMs?: number;
  log?: (line: string) => void;
}

export interface WebPubSubStandIn {
  readonly port: number;
  /** e.g. "http://127.0.0.1:PORT" ("https://…" with `tls`) */
  readonly endpoint: string;
  /** `Endpoint=http://127.0.0.1;Port=PORT;AccessKey=...;Version=1.0;` */
  readonly connectionString: string;
  setRestDelay(ms: number): void;
  /** Pushes data straight to a user's sockets, bypassing REST: the floor for the latency benchmark. Returns the sockets reached. */
  sendToUserDirect(hub: string, userId: string, data: unknown): number;
  /**
   * Cuts a hub's (or one user's) open sockets as a network failure would, without a close
   * handshake; reliable sessions wait for their clients to reconnect. Returns the sockets cut.
   */
  dropSockets(hub: string, userId?: string): number;
  connectionCount(hub?: string): number;
  /**
   * The abuse-protection handshake the service makes with an event handler before it sends it
   * events: OPTIONS with `WebHook-Request-Origin`. Resolves when the handler allows this origin;
   * rejects saying why otherwise (until it does, the stand-in sends that hub's handler no events).
   */
  validateEventHandler(hub: string): Promise<void>;
  /** Closes all sockets and the server; never hangs, and may be called more than once. */
  close(): Promise<void>;
}
