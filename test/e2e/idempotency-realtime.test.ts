/** Idempotency-Key end to end: over HTTP on the local stack, counting frames at the recipient's socket. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { registerOverHttp, type HttpUser } from "../support/api";
import { settle, SocketProbe, type Frame } from "../support/sockets";
import { useLocalStack } from "../support/stack";

const local = useLocalStack();
let base: string;
let alice: HttpUser, bob: HttpUser;
let bobSocket: SocketProbe;

beforeAll(async () => {
  base = local.url;
  alice = await registerOverHttp(base, "idem_alice");
  bob = await registerOverHttp(base, "idem_bob");
  const negotiated = await fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${bob.token}` } });
  bobSocket = await SocketProbe.open(((await negotiated.json()) as { url: string }).url);
  await bobSocket.waitFor((f) => f.event === "unread_count_updated");
});
afterAll(async () => {
  await bobSocket?.close();
});

const send = (title: string, key: string) =>
  fetch(`${base}/messages/`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify({ recipient_id: bob.id, title, body: "body" }),
  });

const pushesOf = (id: number) => bobSocket.frames.filter((f) => f.event === "new_message" && (f.message as Frame).id === id).length;

describe("Idempotency-Key over HTTP", () => {
  it("the same key twice: one message, the same answer, one new_message push", async () => {
    const first = await send("pushed once", "retry-1");
    const second = await send("pushed once", "retry-1");
    expect([first.status, second.status]).toEqual([200, 200]);
    const [a, b] = [await first.text(), await second.text()];
    expect(b).toBe(a);
    const { id } = JSON.parse(a) as { id: number };
    await bobSocket.waitFor((f) => f.event === "new_message" && (f.message as Frame).id === id);
    await settle(300);
    expect(pushesOf(id)).toBe(1);
    const inbox = (await (await fetch(`${base}/messages/inbox/`, { headers: { authorization: `Bearer ${bob.token}` } })).json()) as {
      title: string;
    }[];
    expect(inbox.filter((m) => m.title === "pushed once")).toHaveLength(1);
  });

  it("two requests at once with the same key: both 200 with one id, one push (10 races)", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      const responses = await Promise.all([send(`race ${i}`, `race-${i}`), send(`race ${i}`, `race-${i}`)]);
      expect(responses.map((r) => r.status)).toEqual([200, 200]);
      const [a, b] = (await Promise.all(responses.map((r) => r.json()))) as { id: number }[];
      expect(b.id).toBe(a.id);
      ids.push(a.id);
    }
    await bobSocket.waitFor((f) => f.event === "new_message" && (f.message as Frame).id === ids.at(-1));
    await settle(300);
    expect(ids.map(pushesOf)).toEqual(ids.map(() => 1));
  });

  it("a header with non-ASCII bytes on the wire is a 422 naming the header", async () => {
    // fetch sends header strings as Latin-1 bytes: these are the UTF-8 bytes of "ключ".
    const res = await send("bytes", Buffer.from("ключ").toString("latin1"));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: { loc: string[] }[] }).detail[0].loc).toEqual(["header", "idempotency-key"]);
  });
});
