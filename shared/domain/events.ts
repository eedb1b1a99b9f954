/** The realtime frames, exactly as the wire contract shows them; the one place their names live. */
import type { MessageT } from "./schemas";

export const EVENTS = {
  newMessage: "new_message",
  unreadCountUpdated: "unread_count_updated",
  messageRead: "message_read",
  messagesRead: "messages_read",
  messageUpdated: "message_updated",
  messageDeleted: "message_deleted",
} as const;

export interface NewMessageEvent {
  event: typeof EVENTS.newMessage;
  message: Pick<MessageT, "id" | "sender_id" | "sender_username" | "title" | "timestamp"> & { unread_count: number };
  unread_count: number;
}

export interface UnreadCountUpdatedEvent {
  event: typeof EVENTS.unreadCountUpdated;
  unread_count: number;
}

export interface MessageReadEvent {
  event: typeof EVENTS.messageRead;
  message_id: number;
  read_at: string;
}

export interface MessagesReadEvent {
  event: typeof EVENTS.messagesRead;
  message_ids: number[];
  read_at: string;
}

export interface MessageUpdatedEvent {
  event: typeof EVENTS.messageUpdated;
  message_id: number;
  is_read: boolean;
}

export interface MessageDeletedEvent {
  event: typeof EVENTS.messageDeleted;
  message_id: number;
}

export type RealtimeEvent =
  NewMessageEvent | UnreadCountUpdatedEvent | MessageReadEvent | MessagesReadEvent | MessageUpdatedEvent | MessageDeletedEvent;

/**
 * A frame as a user's sockets receive it and the catch-up endpoint returns it: the event and
 * its place in that user's own sequence (shared/data/event-log.ts assigns it).
 */
export type Frame = RealtimeEvent & { seq: number };

/** An event for one user, before the log has numbered it. */
export interface UserEvent {
  userId: number;
  event: RealtimeEvent;
}

/** An event the log has numbered: pushed to `userId` after its transaction commits. */
export interface UserFrame {
  userId: number;
  frame: Frame;
}

export const toFrame = (event: RealtimeEvent, seq: number): Frame => ({ ...event, seq });

export function newMessageEvent(message: MessageT, unreadCount: number): NewMessageEvent {
  const { id, sender_id, sender_username, title, timestamp } = message;
  return {
    event: EVENTS.newMessage,
    message: { id, sender_id, sender_username, title, timestamp, unread_count: unreadCount },
    unread_count: unreadCount,
  };
}

export const unreadCountUpdatedEvent = (unreadCount: number): UnreadCountUpdatedEvent => ({
  event: EVENTS.unreadCountUpdated,
  unread_count: unreadCount,
});

export const messageReadEvent = (messageId: number, readAt: string): MessageReadEvent => ({
  event: EVENTS.messageRead,
  message_id: messageId,
  read_at: readAt,
});

// Keeps a frame far below Web PubSub's 1 MB message limit when someone reads a huge backlog.
export const MESSAGES_READ_MAX_IDS = 10_000;

/** One frame for a sender's messages read at once (split only past MESSAGES_READ_MAX_IDS ids). */
export function messagesReadEvents(messageIds: number[], readAt: string): MessagesReadEvent[] {
  const frames: MessagesReadEvent[] = [];
  for (let i = 0; i < messageIds.length; i += MESSAGES_READ_MAX_IDS) {
    frames.push({ event: EVENTS.messagesRead, message_ids: messageIds.slice(i, i + MESSAGES_READ_MAX_IDS), read_at: readAt });
  }
  return frames;
}

export const messageUpdatedEvent = (messageId: number, isRead: boolean): MessageUpdatedEvent => ({
  event: EVENTS.messageUpdated,
  message_id: messageId,
  is_read: isRead,
});

export const messageDeletedEvent = (messageId: number): MessageDeletedEvent => ({ event: EVENTS.messageDeleted, message_id: messageId });

/** What a socket gets when it connects: not logged, it says where the user's sequence stands. */
export const connectSnapshot = (unreadCount: number, latestSeq: number): Frame => toFrame(unreadCountUpdatedEvent(unreadCount), latestSeq);
