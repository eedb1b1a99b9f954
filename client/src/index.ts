/**
 * Realtime mail events that lose nothing. `connect()` opens the user's socket through the
 * API's GET /ws/, catches up through GET /events after every new connection and on any gap
 * in `seq`, and hands the app each event once, in order.
 */
export { connect, type ConnectOptions, type ConnectionState, type RealtimeConnection } from "./connection.js";
export { ApiError } from "./api.js";
export { downloadAttachment, uploadAttachment, type UploadedAttachment, type UploadOptions } from "./attachments.js";
export { createSession, SignedOutError, type Session, type SessionOptions, type SignedOutReason } from "./session.js";
export { webPubSubTransport, type Transport, type TransportEvents, type TransportFactory } from "./transport.js";
export type { EventsGone, EventsPage, MailEvent, NegotiationAnswer, RealtimeEvent, TokenAnswer } from "./types.js";
