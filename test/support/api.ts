/** A client of the API over real HTTP: registering and logging in a user, sending a message. */
export interface HttpUser {
  id: number;
  username: string;
  token: string;
}

export const TEST_PASSWORD = "correct horse battery";

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

/** Sends a message as `sender`; anything but 200 throws. */
export async function sendOverHttp(base: string, sender: HttpUser, recipientId: number, title: string): Promise<void> {
  const res = await fetch(`${base}/messages/`, {
    method: "POST",
    headers: { authorization: `Bearer ${sender.token}`, "content-type": "application/json" },
    body: JSON.stringify({ recipient_id: recipientId, title, body: "benchmark body" }),
  });
  if (res.status !== 200) throw new Error(`send failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}
