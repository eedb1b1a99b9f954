/**
 * The client library in a page: log in, then show new mail and the unread count live. The
 * session renews its access token before it expires and retries a refused request once; the
 * page learns of a definitive sign-out (here or on another device) through onSignedOut. Mail
 * goes out with files uploaded straight to Blob Storage (with progress), and a file received is
 * downloaded from there. The API's address comes from `?api=` (default: `npm start`'s).
 */
import {
  connect,
  createSession,
  downloadAttachment,
  uploadAttachment,
  type MailEvent,
  type RealtimeConnection,
} from "../../../client/src/index.js";

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
/** What the attachment functions need: the API, a token, and the browser's fetch. */
const api = { apiUrl, getToken: () => session.getToken(), fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init) };

interface AttachmentSummary {
  id: string;
  filename: string;
  content_type: string;
  size: number;
}

function show(event: MailEvent): void {
  byId("seq").textContent = String(event.seq);
  if ("unread_count" in event) byId("unread").textContent = String(event.unread_count);
  if (event.event === "new_message") {
    const item = document.createElement("li");
    item.dataset.seq = String(event.seq);
    item.textContent = `${event.message.sender_username}: ${event.message.title}`;
    byId("mail").prepend(item);
    showFiles(event.message.id, event.message.sender_username).catch(report);
  }
}

/** A new message's files (the event does not list them): one download button each. */
async function showFiles(messageId: number, sender: string): Promise<void> {
  const res = await session.fetch(`/messages/${messageId}`);
  if (!res.ok) throw new Error(`GET /messages/${messageId} answered ${res.status}`);
  const { attachments } = (await res.json()) as { attachments: AttachmentSummary[] };
  for (const file of attachments) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Download";
    button.addEventListener("click", () => void save(messageId, file).catch(report));
    item.append(`${file.filename} (${file.size} bytes, from ${sender}) `, button);
    byId("files").prepend(item);
  }
}

/** Fetches the file from storage and hands it to the browser as a download under its name. */
async function save(messageId: number, file: AttachmentSummary): Promise<void> {
  const blob = await downloadAttachment(api, messageId, file.id);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = file.filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** Uploads the chosen files (progress over all their bytes), then sends the message naming them. */
async function sendMail(form: HTMLFormElement): Promise<void> {
  const fields = new FormData(form);
  const files = fields.getAll("files").filter((f): f is File => f instanceof File && f.name !== "");
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const progress = byId("progress") as HTMLProgressElement;
  let done = 0;
  const ids: string[] = [];
  for (const file of files) {
    const uploaded = await uploadAttachment(
      api,
      { filename: file.name, contentType: file.type || "application/octet-stream", data: file },
      { onProgress: (loaded) => (progress.value = total ? (done + loaded) / total : 1) },
    );
    done += file.size;
    ids.push(uploaded.id);
  }
  progress.value = 1;
  const res = await session.fetch("/messages/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ to: [Number(fields.get("to"))], title: fields.get("title"), body: fields.get("body"), attachments: ids }),
  });
  const answer = (await res.json()) as { id?: number; detail?: unknown };
  if (!res.ok) throw new Error(`POST /messages/ answered ${res.status}: ${JSON.stringify(answer.detail)}`);
  byId("sent").textContent = `sent message ${answer.id} with ${ids.length} file(s)`;
  form.reset();
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

function report(error: Error): void {
  byId("error").textContent = error.message;
}
byId("login").addEventListener("submit", (e) => {
  e.preventDefault();
  logIn(e.target as HTMLFormElement).catch(report);
});
byId("compose").addEventListener("submit", (e) => {
  e.preventDefault();
  sendMail(e.target as HTMLFormElement).catch(report);
});
byId("check").addEventListener("click", () => void checkMail().catch(report));
byId("signout").addEventListener("click", () => void session.signOut().catch(report));
