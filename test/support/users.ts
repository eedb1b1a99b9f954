import { createToken } from "../../functions/token-create";
import { registerUser } from "../../functions/users-create";
import { call, type CallResult } from "./http";

export interface TestUser {
  id: number;
  username: string;
  password: string;
  token: string;
}

let counter = 0;

/**
 * Calls again after Retry-After while password hashing sheds load (503), as a client should: many
 * users set up at once on a busy machine can pass the hashing budget.
 */
async function patiently(attempt: () => Promise<CallResult>): Promise<CallResult> {
  for (let tries = 1; ; tries++) {
    const res = await attempt();
    if (res.status !== 503 || tries >= 10) return res;
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get("retry-after") ?? 1) * 1000));
  }
}

/** Registers a user through the API and logs in through the API. */
export async function newUser(prefix = "user"): Promise<TestUser> {
  const username = `${prefix}${++counter}_${process.pid}`;
  const password = "correct horse battery";
  const created = await patiently(() => call(registerUser, { method: "POST", json: { username, password } }));
  if (created.status !== 200) throw new Error(`register failed: ${created.status} ${created.text}`);
  const login = await patiently(() =>
    call(createToken, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username, password }).toString(),
    }),
  );
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  const { id } = created.body as { id: number };
  return { id, username, password, token: (login.body as { access_token: string }).access_token };
}
