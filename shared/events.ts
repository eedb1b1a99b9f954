/** The realtime frames, exactly as the wire contract shows them; the one place their names live. */
import type { MessageT } from "./schemas";

export const EVENTS = {
  newMessage: "new_message",
  unreadCountUpdated: "unread_count_updated",
  messageRead: "message_read",
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

export type RealtimeEvent = NewMessageEvent | UnreadCountUpdatedEvent | MessageReadEvent;

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
