import { createToken } from "../../functions/token-create";
import { registerUser } from "../../functions/users-create";
import { call } from "./http";

export interface TestUser {
  id: number;
  username: string;
  password: string;
  token: string;
}

let counter = 0;

/** Registers a user through the API and logs in through the API. */
export async function newUser(prefix = "user"): Promise<TestUser> {
  const username = `${prefix}${++counter}_${process.pid}`;
  const password = "correct horse battery";
  const created = await call(registerUser, { method: "POST", json: { username, password } });
  if (created.status !== 200) throw new Error(`register failed: ${created.status} ${created.text}`);
  const login = await call(createToken, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }).toString(),
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  const { id } = created.body as { id: number };
  return { id, username, password, token: (login.body as { access_token: string }).access_token };
}
