/**
 * The client library in a page: log in, then show new mail and the unread count live. The
 * session renews its access token before it expires and retries a refused request once; the
 * page learns of a definitive sign-out (here or on another device) through onSignedOut. The
 * API's address comes from `?api=` (default: `npm start`'s).
 */
import { connect, createSession, type MailEvent, type RealtimeConnection } from "../../../client/src/index.js";

const apiUrl = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:7071";
const byId = (id: string) => document.getElementById(id) as HTMLElement;
let connection: RealtimeConnection | undefined;

const session = createSession({
  apiUrl,
  onSignedOut: (reason) => {
    connection?.stop();
    connection = undefined;
    byId("state").textContent = "signed out";
    byId("error").textContent = `Signed out (${reason}): log in again`;
  },
  onTokens: () => (byId("renewals").textContent = String(session.renewals)),
});

function show(event: MailEvent): void {
  byId("seq").textContent = String(event.seq);
  if ("unread_count" in event) byId("unread").textContent = String(event.unread_count);
  if (event.event === "new_message") {
    const item = document.createElement("li");
    item.dataset.seq = String(event.seq);
    item.textContent = `${event.message.sender_username}: ${event.message.title}`;
    byId("mail").prepend(item);
  }
}

async function logIn(form: HTMLFormElement): Promise<void> {
  const fields = new FormData(form);
  await session.logIn(String(fields.get("username")), String(fields.get("password")));
  byId("error").textContent = "";
  const me = (await (await session.fetch("/users/me")).json()) as { username: string };
  byId("who").textContent = me.username;
  connection?.stop();
  connection = connect({
    apiUrl,
    getToken: () => session.getToken(),
    onEvent: show,
    // A real app would fetch its inbox again here.
    onReload: () => byId("mail").replaceChildren(),
    onStateChange: (state) => (byId("state").textContent = state),
    onError: (error) => (byId("error").textContent = error.message),
  });
}

/** An ordinary request through the session: renewed and retried as needed. */
async function checkMail(): Promise<void> {
  const res = await session.fetch("/messages/unread_count/");
  const { unread_count } = (await res.json()) as { unread_count: number };
  byId("checked").textContent = String(unread_count);
}

const report = (error: Error) => (byId("error").textContent = error.message);
byId("login").addEventListener("submit", (e) => {
  e.preventDefault();
  logIn(e.target as HTMLFormElement).catch(report);
});
byId("check").addEventListener("click", () => void checkMail().catch(report));
byId("signout").addEventListener("click", () => void session.signOut().catch(report));
