/**
 * Logins over real HTTP from a chosen loopback source address (127.0.0.2, 127.0.0.3, ...): the local
 * host reports the socket's address as the client's, as Azure's front end does, so each address is
 * a separate client to the throttle and the password hasher.
 */
import http from "node:http";

export interface LoginAnswer {
  status: number;
  retryAfter?: number;
}

const agents = new Map<string, http.Agent>();
const agentFor = (address: string) => {
  let agent = agents.get(address);
  if (!agent) agents.set(address, (agent = new http.Agent({ keepAlive: true, localAddress: address })));
  return agent;
};

/** POST /token from `address`; the status and Retry-After (seconds), the body read and dropped. */
export function loginFrom(base: string, address: string, username: string, password: string): Promise<LoginAnswer> {
  const body = new URLSearchParams({ username, password }).toString();
  const headers = { "content-type": "application/x-www-form-urlencoded", "content-length": String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = http.request(new URL("/token", base), { method: "POST", headers, agent: agentFor(address) }, (res) => {
      res.resume();
      res.on("end", () => {
        const retryAfter = res.headers["retry-after"];
        resolve({ status: res.statusCode ?? 0, retryAfter: retryAfter === undefined ? undefined : Number(retryAfter) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Closes the kept-alive connections (the end of a test or benchmark). */
export function closeLoginAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}
