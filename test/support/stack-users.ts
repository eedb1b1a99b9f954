/** A signed-in user's requests and sockets on a stack opened by useLocalStack (test/support/stack.ts). */
import type { HttpUser } from "./api";
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
