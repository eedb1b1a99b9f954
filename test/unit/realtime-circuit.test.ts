/** The push circuit: when it stops calling Web PubSub, and when it lets calls through again. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  closePushCircuit,
  PUSH_COOL_DOWN_MS,
  PUSH_FAILURES_TO_OPEN,
  PushSkippedError,
  throughPushCircuit,
} from "../../shared/realtime/realtime-circuit";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:7072"), { code: "ECONNREFUSED" });
const status = (statusCode: number) => Object.assign(new Error(`status ${statusCode}`), { statusCode });

let calls = 0;
const failing = (error: Error) => async () => {
  calls++;
  throw error;
};
const succeeding = async () => {
  calls++;
};
const attempt = (send: () => Promise<unknown>, answersTheService = false) =>
  throughPushCircuit(send, answersTheService).then(
    () => "sent",
    (error: unknown) => (error instanceof PushSkippedError ? "skipped" : "failed"),
  );

async function open(): Promise<void> {
  for (let i = 0; i < PUSH_FAILURES_TO_OPEN; i++) expect(await attempt(failing(refused()))).toBe("failed");
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  closePushCircuit();
  calls = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the push circuit", () => {
  it(`opens after ${PUSH_FAILURES_TO_OPEN} failures in a row, then skips pushes without calling the service`, async () => {
    await open();
    const before = calls;
    expect(await attempt(succeeding)).toBe("skipped");
    expect(calls).toBe(before);
  });

  it("stays closed through failures with successes between them", async () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < PUSH_FAILURES_TO_OPEN - 1; i++) expect(await attempt(failing(refused()))).toBe("failed");
      expect(await attempt(succeeding)).toBe("sent");
    }
  });

  it("counts timeouts, 408, 429 and 5xx, but not a 4xx refusal of one call", async () => {
    for (let i = 0; i < 5; i++) expect(await attempt(failing(status(400)))).toBe("failed");
    expect(await attempt(succeeding)).toBe("sent");
    for (const error of [new Error("timed out after 2000 ms"), status(429), status(503)])
      expect(await attempt(failing(error))).toBe("failed");
    expect(await attempt(succeeding)).toBe("skipped");
  });

  it("after the cool-down lets one trial through, skips others meanwhile, and closes when it succeeds", async () => {
    await open();
    vi.setSystemTime(Date.now() + PUSH_COOL_DOWN_MS + 1);
    let finishTrial!: () => void;
    const trial = attempt(() => new Promise<void>((resolve) => (finishTrial = resolve)));
    expect(await attempt(succeeding)).toBe("skipped"); // not held behind the trial
    finishTrial();
    expect(await trial).toBe("sent");
    expect(await attempt(succeeding)).toBe("sent");
  });

  it("reopens when the trial fails", async () => {
    await open();
    vi.setSystemTime(Date.now() + PUSH_COOL_DOWN_MS + 1);
    expect(await attempt(failing(refused()))).toBe("failed");
    expect(await attempt(succeeding)).toBe("skipped");
  });

  it("tries a push answering the service's own event at once, and closes on its success", async () => {
    await open();
    expect(await attempt(succeeding, true)).toBe("sent");
    expect(await attempt(succeeding)).toBe("sent");
  });
});
