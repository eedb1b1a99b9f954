/**
 * The floor for the throughput benchmark: a bare `node:http` server that runs exactly the
 * service's SQL (the same `shared/` data functions), the same per-request user lookup and
 * the same JSON, with nothing else: no Functions objects, no validation library, no
 * routing table. What the same SQL allows on this machine.
 *
 * Started by bench/throughput.ts as a child process; prints `{"url":...}` when ready.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import bcrypt from "bcryptjs";

import { signIn } from "../../shared/auth/sessions";
import { getConfig } from "../../shared/config/config";
import { inTransaction } from "../../shared/data/db";
import { isForeignKeyViolation } from "../../shared/data/db-errors";
import {
  countUnread,
  insertFloorMessage,
  listInbox,
  listMessages,
  listOutbox,
  mailboxCounts,
  type ListFilters,
} from "../../shared/data/messages";
import { findUserByUsername } from "../../shared/data/users";
import { newMessageEvent } from "../../shared/domain/events";
import type { MessageT } from "../../shared/domain/schemas";
import { push } from "../../shared/realtime/realtime";
import { currentUser, reply, serveFloor } from "./floor-http";

const DEFAULT_PAGE = 1000;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const quiet = { warn: () => {} };

/** GET /messages/'s filters, read without validation (the benchmark sends only good ones). */
function filtersOf(params: URLSearchParams): ListFilters {
  const flag = (name: string) => (params.has(name) ? params.get(name) === "true" : undefined);
  const id = (name: string) => (params.has(name) ? Number(params.get(name)) : undefined);
  const instant = (name: string) => (params.has(name) ? new Date(params.get(name)!) : undefined);
  return {
    folder: (params.get("folder") ?? undefined) as ListFilters["folder"],
    starred: flag("starred"),
    unread: flag("unread"),
    from: id("from"),
    to: id("to"),
    since: instant("since"),
    until: instant("until"),
    has_attachments: flag("has_attachments"),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://floor");
  // The service's statements: its pages are bounded in bytes too (LIST_MAX_BYTES).
  const page = () => ({ limit: Number(url.searchParams.get("limit") ?? DEFAULT_PAGE), maxBytes: getConfig().listMaxBytes });
  if (req.method === "POST" && url.pathname === "/token") {
    const form = new URLSearchParams(await readBody(req));
    const user = await findUserByUsername(form.get("username") ?? "");
    if (!user || !(await bcrypt.compare(form.get("password") ?? "", user.hashed_password)))
      return reply(res, 401, { detail: "Incorrect username or password" });
    return reply(res, 200, (await signIn({ id: user.id, username: user.username }, req.headers["user-agent"] ?? null)).tokens);
  }
  const user = await currentUser(req);
  if (!user) return reply(res, 401, { detail: "Could not validate credentials" });
  if (req.method === "GET" && url.pathname === "/messages/inbox/") return reply(res, 200, await listInbox(user.id, page()));
  if (req.method === "GET" && url.pathname === "/messages/outbox/") return reply(res, 200, await listOutbox(user.id, page()));
  if (req.method === "GET" && url.pathname === "/messages/counts") return reply(res, 200, await mailboxCounts(user.id));
  if (req.method === "GET" && url.pathname === "/messages/") {
    return reply(
      res,
      200,
      await listMessages(user.id, filtersOf(url.searchParams), { ...page(), q: url.searchParams.get("q") ?? undefined }),
    );
  }
  if (req.method === "GET" && url.pathname === "/messages/unread_count/")
    return reply(res, 200, { unread_count: await countUnread(user.id) });
  if (req.method === "POST" && url.pathname === "/messages/") {
    const input = JSON.parse(await readBody(req)) as { recipient_id: number; title: string; body: string };
    // The plain insert, without the event log the service writes with it: the log's cost shows in the ratio.
    const sent = await inTransaction(async (tx) => {
      const message = await insertFloorMessage(tx, user.id, input);
      return { message, unreadCount: await countUnread(input.recipient_id, tx) };
    }).catch((error: unknown) => {
      if (isForeignKeyViolation(error, "messages_recipient_id_fkey")) return null;
      throw error;
    });
    if (!sent) return reply(res, 404, { detail: "Recipient not found" });
    await push({ userId: sent.message.recipient_id }, newMessageEvent(sent.message as MessageT, sent.unreadCount), quiet);
    return reply(res, 200, sent.message);
  }
  reply(res, 404, { detail: "Not Found" });
}

serveFloor(handle);
