/**
 * The socket side, behind a small interface so the connection logic can be tested with a
 * fake. The real one is the official Web PubSub client on its reliable subprotocol, which
 * heals short drops of one connection by itself; longer ones end in `stopped`.
 */
import { WebPubSubClient, type OnServerDataMessageArgs } from "@azure/web-pubsub-client";

export interface TransportEvents {
  /** A new connection is open (not a resumed one: a resumed one missed nothing). */
  connected(): void;
  /** A message the server sent to this user. */
  frame(data: unknown): void;
  /** The connection is gone for good; open another to go on. */
  stopped(): void;
}

export interface Transport {
  /** Resolves once the socket is open; rejects when negotiation or the handshake fails. */
  start(): Promise<void>;
  stop(): void;
}

export type TransportFactory = (getClientAccessUrl: () => Promise<string>, events: TransportEvents) => Transport;

export const webPubSubTransport: TransportFactory = (getClientAccessUrl, events) => {
  const client = new WebPubSubClient(
    { getClientAccessUrl: () => getClientAccessUrl() },
    {
      // Reconnecting with a new negotiation is the caller's, with backoff and jitter.
      autoReconnect: false,
      // The SDK's keep-alive loops outlive stop() by their interval; the caller's idle catch-up covers a dead socket.
      keepAliveIntervalInMs: 0,
      keepAliveTimeoutInMs: 0,
    },
  );
  let stopped = false;
  client.on("connected", () => events.connected());
  client.on("server-message", (e: OnServerDataMessageArgs) => events.frame(e.message.data));
  client.on("stopped", () => {
    if (!stopped) events.stopped();
  });
  return {
    async start() {
      await client.start();
      // stop() while the socket was still opening does not reach the SDK's socket.
      if (stopped) client.stop();
    },
    stop() {
      stopped = true;
      client.stop();
    },
  };
};
