// The types of the build that import() loads below.
import type { GenerateClientTokenOptions, WebPubSubServiceClient, WebPubSubServiceClientOptions } from "@azure/web-pubsub" with {
  "resolution-mode": "import",
};

import { getConfig, type Config } from "../config/config";
import { connectionStringField } from "../config/connection-string";
import { azureCredential } from "../config/identity";
import type { RealtimeEvent, UserFrame } from "../domain/events";
import { closePushCircuit, PushSkippedError, throughPushCircuit } from "./realtime-circuit";

export interface Logger {
  warn(...args: unknown[]): void;
}

let client: Promise<WebPubSubServiceClient | null> | undefined;

/**
 * The SDK's own retries, bounded: by default it retries a refused connection three times
 * with 1 s, 2 s, 4 s waits, so every push to an unreachable service took the whole push
 * timeout. One quick retry still covers a dropped keep-alive connection; the push timeout
 * bounds the whole call, and the push circuit (realtime-circuit.ts) stops calling a service that is down.
 */
const CLIENT_OPTIONS: WebPubSubServiceClientOptions = { retryOptions: { maxRetries: 1, retryDelayInMs: 100, maxRetryDelayInMs: 200 } };

async function buildClient(config: Config): Promise<WebPubSubServiceClient | null> {
  const settings = config.webPubSub;
  if (settings.kind === "none") return null;
  // Loaded at the first use, like the identity library: a process that never pushes never pays for it.
  const { WebPubSubServiceClient } = await import("@azure/web-pubsub");
  if (settings.kind === "connectionString") {
    // Only a local stand-in or emulator is reached over plain http; the SDK refuses it otherwise.
    const insecure = connectionStringField(settings.connectionString, "Endpoint")?.toLowerCase().startsWith("http://") ?? false;
    return new WebPubSubServiceClient(settings.connectionString, config.hub, { ...CLIENT_OPTIONS, allowInsecureConnection: insecure });
  }
  return new WebPubSubServiceClient(settings.endpoint, await azureCredential(config.azureClientId), config.hub, CLIENT_OPTIONS);
}

/** The one Web PubSub client of this instance, or null when realtime is not configured. */
export function getRealtimeClient(): Promise<WebPubSubServiceClient | null> {
  client ??= buildClient(getConfig());
  return client;
}

export function resetRealtimeClient(): void {
  client = undefined;
  closePushCircuit();
}

export class RealtimeUnavailableError extends Error {}

export interface ClientAccess {
  url: string;
  expiresAt: Date;
}

/**
 * The group every socket whose token expires at `expiresAt` is put in when it connects: Web PubSub
 * checks a token only at the handshake, so the sweep closes this group once the time has passed.
 */
export const expiryGroup = (expiresAt: Date): string => `token-expiry-${Math.floor(expiresAt.getTime() / 1000)}`;

/** The group of every socket negotiated with one session's tokens: ending the session closes it. */
export const sessionGroup = (sessionId: string): string => `session-${sessionId}`;

/**
 * A socket URL for exactly one user: no roles, only its expiry group (and its session's), and an
 * expiry no later than `notAfter` (the app token's). Whole minutes only, since that is what the service takes.
 */
export async function clientAccessFor(
  userId: number,
  notAfter: Date,
  sessionId: string | null = null,
  now = Date.now(),
): Promise<ClientAccess | null> {
  const webPubSub = await getRealtimeClient();
  if (!webPubSub) throw new RealtimeUnavailableError("Web PubSub is not configured");
  const minutes = Math.floor((notAfter.getTime() - now) / 60_000);
  if (minutes < 1) return null;
  const expiresAt = new Date(Math.floor(now / 1000) * 1000 + minutes * 60_000);
  const options: GenerateClientTokenOptions = {
    userId: String(userId),
    expirationTimeInMinutes: minutes,
    groups: [expiryGroup(expiresAt), ...(sessionId ? [sessionGroup(sessionId)] : [])],
  };
  const { url } = await withTimeout(getConfig().pushTimeoutMs, (abortSignal) =>
    webPubSub.getClientAccessToken({ ...options, abortSignal }),
  );
  return { url, expiresAt };
}

/** Whether the service still holds this connection; throws when it cannot tell (unreachable). */
export async function connectionIsOpen(connectionId: string): Promise<boolean> {
  const webPubSub = await getRealtimeClient();
  if (!webPubSub) return false;
  return withTimeout(getConfig().pushTimeoutMs, (abortSignal) => webPubSub.connectionExists(connectionId, { abortSignal }));
}

/** Closes one connection (a socket past the user's cap); never throws, says whether it was closed. */
export async function closeSocket(connectionId: string, reason: string, log: Logger): Promise<boolean> {
  try {
    const webPubSub = await getRealtimeClient();
    if (!webPubSub) return false;
    await withTimeout(getConfig().pushTimeoutMs, (abortSignal) => webPubSub.closeConnection(connectionId, { reason, abortSignal }));
    return true;
  } catch (error) {
    log.warn(`closing connection ${connectionId} failed: ${(error as Error).message}`);
    return false;
  }
}

/** Closes every socket whose token expired at `expiresAt`; throws when the service did not take the call. */
export async function closeExpiredSockets(expiresAt: Date, reason: string): Promise<void> {
  const webPubSub = await getRealtimeClient();
  if (!webPubSub) return;
  await withTimeout(getConfig().pushTimeoutMs, (abortSignal) =>
    webPubSub.group(expiryGroup(expiresAt)).closeAllConnections({ reason, abortSignal }),
  );
}

/**
 * Closes the sockets of ended sessions, right after the change committed, so they close within
 * seconds. Never throws: the sign-out has happened, and a socket left open is closed anyway when
 * its token expires (the expiry sweep); a failure is logged.
 */
export async function closeSessionSockets(sessionIds: readonly string[], reason: string, log: Logger): Promise<void> {
  if (sessionIds.length === 0) return;
  const webPubSub = await getRealtimeClient().catch(() => null);
  if (!webPubSub) return;
  await Promise.all(
    sessionIds.map((sessionId) =>
      withTimeout(getConfig().pushTimeoutMs, (abortSignal) =>
        webPubSub.group(sessionGroup(sessionId)).closeAllConnections({ reason, abortSignal }),
      ).catch((error: Error) => log.warn(`closing the sockets of session ${sessionId} failed: ${error.message}`)),
    ),
  );
}

/** Closes every socket of a user (sign-out everywhere, a deleted account); never throws. */
export async function closeUserSockets(userId: number, reason: string, log: Logger): Promise<void> {
  try {
    const webPubSub = await getRealtimeClient();
    if (!webPubSub) return;
    await withTimeout(getConfig().pushTimeoutMs, (abortSignal) => webPubSub.closeUserConnections(String(userId), { reason, abortSignal }));
  } catch (error) {
    log.warn(`closing the sockets of user ${userId} failed: ${(error as Error).message}`);
  }
}

async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export type Target = { userId: number } | { connectionId: string };

/**
 * Sends one event, waiting at most the push timeout, and not at all while Web PubSub is known
 * to be failing. Never throws: the request that caused the event has already committed, and a
 * lost notification must not fail or undo it.
 */
export async function push(target: Target, event: RealtimeEvent, log: Logger): Promise<boolean> {
  const describe = "userId" in target ? `user ${target.userId}` : `connection ${target.connectionId}`;
  try {
    const webPubSub = await getRealtimeClient();
    if (!webPubSub) return false;
    const send = () =>
      withTimeout(getConfig().pushTimeoutMs, (abortSignal) =>
        "userId" in target
          ? webPubSub.sendToUser(String(target.userId), event, { abortSignal })
          : webPubSub.sendToConnection(target.connectionId, event, { abortSignal }),
      );
    await throughPushCircuit(send, "connectionId" in target);
    return true;
  } catch (error) {
    const why = error instanceof PushSkippedError ? "skipped" : "failed";
    log.warn(`realtime push of ${event.event} to ${describe} ${why}: ${(error as Error).message}`);
    return false;
  }
}

/**
 * Pushes logged frames after their commit: each user's in seq order, one after another, so a
 * socket sees no gap that is only a reordering; different users concurrently, so two slow users
 * cost one push timeout, not two.
 */
export async function pushFrames(frames: readonly UserFrame[], log: Logger): Promise<void> {
  const byUser = new Map<number, UserFrame[]>();
  for (const frame of frames) byUser.set(frame.userId, [...(byUser.get(frame.userId) ?? []), frame]);
  await Promise.all(
    [...byUser.entries()].map(async ([userId, own]) => {
      for (const { frame } of own) await push({ userId }, frame, log);
    }),
  );
}
