/** A signed-in user's requests and sockets on a stack opened by useLocalStack (test/support/stack.ts). */
import { registerOverHttp, type HttpUser } from "./api";
import { SocketProbe } from "./sockets";
import type { OpenStack } from "./stack";

export type ApiCall = (user: HttpUser, method: string, path: string, body?: unknown) => Promise<Response>;

/** Requests to the stack's host as a user, with a JSON body when one is given. */
export const apiOf =
  (local: OpenStack): ApiCall =>
  (user, method, path, body) =>
    fetch(`${local.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${user.token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

/** A socket of the user's (closed with the stack), once it has been told the unread count, as every connection is first. */
export async function connectSocket(local: OpenStack, user: HttpUser): Promise<SocketProbe> {
  const { url } = (await (await apiOf(local)(user, "GET", "/ws/")).json()) as { url: string };
  const probe = await SocketProbe.open(url);
  local.probes.push(probe);
  await probe.waitFor((f) => f.event === "unread_count_updated");
  return probe;
}

type Four<T> = [T, T, T, T];
type Six<T> = [T, T, T, T, T, T];

/**
 * The realtime tests' cast: alice, bob, carol and dave registered as `<prefix>_<name>`, and their
 * sockets in the order alice, alice, bob, bob, carol, dave (two devices each for alice and bob).
 */
export async function castOnSockets(local: OpenStack, prefix: string): Promise<{ users: Four<HttpUser>; sockets: Six<SocketProbe> }> {
  const [alice, bob, carol, dave] = await Promise.all(
    (["alice", "bob", "carol", "dave"] as const).map((name) => registerOverHttp(local.url, `${prefix}_${name}`)),
  );
  const devices: Six<HttpUser> = [alice, alice, bob, bob, carol, dave];
  const [a1, a2, b1, b2, c1, d1] = await Promise.all(devices.map((user) => connectSocket(local, user)));
  return { users: [alice, bob, carol, dave], sockets: [a1, a2, b1, b2, c1, d1] };
}
