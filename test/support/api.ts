/** Registers and logs in a user over real HTTP, as a client of the API would. */
export interface HttpUser {
  id: number;
  username: string;
  token: string;
}

export const TEST_PASSWORD = "password123";

export async function registerOverHttp(base: string, username: string): Promise<HttpUser> {
  const created = await fetch(`${base}/users/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: TEST_PASSWORD }),
  });
  if (created.status !== 200) throw new Error(`register ${username}: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: number };
  const login = await fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ username, password: TEST_PASSWORD }) });
  if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${await login.text()}`);
  return { id, username, token: ((await login.json()) as { access_token: string }).access_token };
}
