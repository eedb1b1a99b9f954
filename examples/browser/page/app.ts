/**
 * The client library in a page: log in, then show new mail and the unread count live. The
 * API's address comes from `?api=` (default: `npm start`'s).
 */
import { connect, type MailEvent, type RealtimeConnection } from "../../../client/src/index.js";

const apiUrl = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:7071";
const byId = (id: string) => document.getElementById(id) as HTMLElement;
let connection: RealtimeConnection | undefined;

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
  const res = await fetch(`${apiUrl}/token`, {
    method: "POST",
    body: new URLSearchParams(new FormData(form) as unknown as Record<string, string>),
  });
  if (!res.ok) throw new Error(`login answered ${res.status}`);
  const { access_token: token } = (await res.json()) as { access_token: string };
  connection?.stop();
  connection = connect({
    apiUrl,
    getToken: () => token,
    onEvent: show,
    // A real app would fetch its inbox again here.
    onReload: () => byId("mail").replaceChildren(),
    onStateChange: (state) => (byId("state").textContent = state),
    onError: (error) => (byId("error").textContent = error.message),
  });
}

byId("login").addEventListener("submit", (e) => {
  e.preventDefault();
  logIn(e.target as HTMLFormElement).catch((error: Error) => (byId("error").textContent = error.message));
});
