/**
 * Loses nothing under faults: two library clients of one user receive 2,000 events while
 * their sockets are disrupted 100 times: sockets cut by the stand-in, the stand-in restarted
 * (every session gone), and one Web PubSub outage during which sends still answer 200. Each
 * client must end with every event exactly once, in seq order, and the right unread count.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_HUB } from "../../shared/config/config.js";
import { registerOverHttp, type HttpUser } from "../../test/support/api.js";
import { useLocalStack } from "../../test/support/stack.js";
import { connect, type MailEvent, type RealtimeConnection } from "../src/index.js";
import { until } from "./fakes.js";

const EVENTS = 2_000;
const DISRUPTIONS = 100;
/** The length of the one Web PubSub outage (FAULT_OUTAGE_MS to try another). */
const OUTAGE_MS = Number(process.env.FAULT_OUTAGE_MS ?? 10_000);
/** One disruption in this many is a stand-in restart; one of them all is the outage. */
const RESTART_EVERY = 10;
/** One action in this many marks a received message read (two events) instead of sending one (one event). */
const READ_EVERY = 10;
const SENDERS = 4;

let base: string;
const connections: RealtimeConnection[] = [];
const local = useLocalStack({ env: { WEBPUBSUB_PUSH_TIMEOUT_MS: "1000" } });

beforeAll(() => {
  base = local.url;
});
afterAll(() => {
  for (const connection of connections) connection.stop();
});

async function api(user: HttpUser, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${user.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** One library client of `user`, recording every event it is given. */
function listen(user: HttpUser) {
  const events: MailEvent[] = [];
  const connection = connect({
    apiUrl: base,
    getToken: () => user.token,
    onEvent: (event) => events.push(event),
    backoff: { initialDelayMs: 100, maxDelayMs: 1_000 },
  });
  connections.push(connection);
  return { connection, events };
}

/** The recipient's log grows by one event per send and two per first read, in actions run a few at a time. */
class Workload {
  logged = 0;
  private sent = 0;
  private readonly received: number[] = [];

  constructor(
    private readonly sender: HttpUser,
    private readonly recipient: HttpUser,
  ) {}

  /** Runs actions until the recipient's log holds `target` events. */
  async until(target: number): Promise<void> {
    const worker = async () => {
      while (this.logged < target) {
        const read = this.received.length > 0 && this.sent % READ_EVERY === 0 && this.logged + 2 <= target;
        if (read) {
          this.logged += 2;
          this.sent++;
          const id = this.received.shift() as number;
          await api(this.recipient, "PUT", `/messages/${id}/read`);
        } else {
          this.logged += 1;
          const n = ++this.sent;
          const message = (await api(this.sender, "POST", "/messages/", {
            recipient_id: this.recipient.id,
            title: `m${n}`,
            body: "fault test",
          })) as { id: number };
          this.received.push(message.id);
        }
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, worker));
  }
}

describe("two clients of one user under 100 disconnects", () => {
  it(`get all ${EVENTS} events once, in order, with the right unread count`, async () => {
    const sender = await registerOverHttp(base, "fault_sender");
    const recipient = await registerOverHttp(base, "fault_recipient");
    const clients = [listen(recipient), listen(recipient)];
    await until(() => clients.every((c) => c.events.length === 1), "both connect-time snapshots", 10_000);

    const workload = new Workload(sender, recipient);
    const kinds = { drops: 0, restarts: 0, outages: 0 };
    for (let disruption = 1; disruption <= DISRUPTIONS; disruption++) {
      await workload.until((EVENTS * disruption) / (DISRUPTIONS + 1));
      if (disruption === DISRUPTIONS / 2) {
        // The outage: sends go on (answering 200) while nothing can be pushed.
        kinds.outages++;
        const started = Date.now();
        await local.outage.stop();
        await workload.until((EVENTS * (disruption + 0.5)) / (DISRUPTIONS + 1));
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - started))));
        await local.outage.restart();
      } else if (disruption % RESTART_EVERY === 0) {
        kinds.restarts++;
        await local.outage.stop();
        await local.outage.restart();
      } else {
        kinds.drops++;
        local.stack.webPubSub?.dropSockets(DEFAULT_HUB, String(recipient.id));
      }
    }
    await workload.until(EVENTS);
    expect(kinds).toEqual({ drops: 90, restarts: 9, outages: 1 });

    const { latest_seq: latest } = (await api(recipient, "GET", "/events?after=0&limit=1")) as { latest_seq: number };
    expect(latest).toBe(EVENTS);
    await until(() => clients.every((c) => c.connection.seq === EVENTS), "both clients caught up", 60_000);
    const { unread_count: unread } = (await api(recipient, "GET", "/messages/unread_count")) as { unread_count: number };
    for (const { events } of clients) {
      const [snapshot, ...logged] = events;
      expect(snapshot).toMatchObject({ event: "unread_count_updated", seq: 0 });
      expect(logged.map((e) => e.seq)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
      const counts = logged.flatMap((e) => ("unread_count" in e ? [e.unread_count] : []));
      expect(counts.at(-1)).toBe(unread);
    }
    expect(unread).toBeGreaterThan(0);
  }, 120_000);
});
