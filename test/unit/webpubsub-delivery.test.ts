/**
 * The stand-in's REST delivery on a clock the test moves: each send reaches a connection at most
 * `deliveryJitterMs` after it was accepted, and a connection gets its sends in the order they were
 * accepted. On real timers this could only be checked against a wall clock a loaded machine stretches.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";

import { ConnectionRegistry, jsonPayload } from "../../local/webpubsub/connections";
import { DEFAULT_MAX_UNACKED_BYTES, DEFAULT_MAX_UNACKED_MESSAGES, DEFAULT_SESSION_RETENTION_MS } from "../../local/webpubsub/reliable";

const JITTER_MS = 100;
const limits = {
  retentionMs: DEFAULT_SESSION_RETENTION_MS,
  maxUnacked: DEFAULT_MAX_UNACKED_MESSAGES,
  maxUnackedBytes: DEFAULT_MAX_UNACKED_BYTES,
};

/** A plain socket that records what it is sent. */
function recordingSocket(): { socket: WebSocket; sent: number[] } {
  const sent: number[] = [];
  const socket = {
    readyState: WebSocket.OPEN,
    send: (text: string) => sent.push((JSON.parse(text) as { n: number }).n),
  } as unknown as WebSocket;
  return { socket, sent };
}

/** Makes Math.random return these fractions of the jitter, one per send, in order. */
function waits(...fractions: number[]): void {
  const random = vi.spyOn(Math, "random");
  for (const fraction of fractions) random.mockReturnValueOnce(fraction);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("a REST send's delivery to one connection", () => {
  it("comes no later than the longest wait after a burst, each send when its own wait and those before it are over", async () => {
    const registry = new ConnectionRegistry(limits, JITTER_MS);
    const { socket, sent } = recordingSocket();
    const connection = registry.add({ hub: "h", userId: "u", roles: [], groups: [], socket });
    // Waits of 50, 10, 90, 30 and 0 ms, all starting as the burst is accepted.
    waits(0.5, 0.1, 0.9, 0.3, 0);
    for (let n = 0; n < 5; n++) registry.deliverLater(connection, jsonPayload({ n }));

    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(49);
    // The second's wait is over, but the first is still on its way: order is kept.
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(JITTER_MS * 0.9 - 50);
    expect(sent).toEqual([0, 1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(JITTER_MS * 10);
    expect(sent).toEqual([0, 1, 2, 3, 4]);
  });

  it("reaches a connection that is still there, and not one that ended meanwhile", async () => {
    const registry = new ConnectionRegistry(limits, JITTER_MS);
    const staying = recordingSocket();
    const leaving = recordingSocket();
    const stays = registry.add({ hub: "h", userId: "u", roles: [], groups: [], socket: staying.socket });
    const leaves = registry.add({ hub: "h", userId: "u", roles: [], groups: [], socket: leaving.socket });
    waits(0.5, 0.5);
    registry.deliverLater(stays, jsonPayload({ n: 1 }));
    registry.deliverLater(leaves, jsonPayload({ n: 1 }));
    registry.end(leaves, "gone");
    await vi.advanceTimersByTimeAsync(JITTER_MS);
    expect(staying.sent).toEqual([1]);
    expect(leaving.sent).toEqual([]);
  });
});
