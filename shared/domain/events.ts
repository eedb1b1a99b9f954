/** The realtime frames, exactly as the wire contract shows them; the one place their names live. */
import type { CopyKind, Folder } from "./folders";
import type { MessageT } from "./schemas";

export const EVENTS = {
  newMessage: "new_message",
  unreadCountUpdated: "unread_count_updated",
  messageRead: "message_read",
  messagesRead: "messages_read",
  messageUpdated: "message_updated",
  messageDeleted: "message_deleted",
  messagesUpdated: "messages_updated",
  messagesDeleted: "messages_deleted",
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
  reader_id: number;
}

export interface MessagesReadEvent {
  event: typeof EVENTS.messagesRead;
  message_ids: number[];
  read_at: string;
  reader_id: number;
}

/** The state of one copy, as its owner's devices show it. */
export interface CopyState {
  folder: Folder;
  is_starred: boolean;
  is_read: boolean;
}

export interface MessageUpdatedEvent extends CopyState {
  event: typeof EVENTS.messageUpdated;
  message_id: number;
  /** Which of the owner's copies changed (a note to oneself has two under one id). */
  copy: CopyKind;
}

/** One bulk change: the ids it changed and the fields it set (the same on each). */
export interface MessagesUpdatedEvent extends Partial<CopyState> {
  event: typeof EVENTS.messagesUpdated;
  message_ids: number[];
}

export interface MessageDeletedEvent {
  event: typeof EVENTS.messageDeleted;
  message_id: number;
  /** Present when only that copy was deleted (a note to oneself has two under one id). */
  copy?: CopyKind;
}

export interface MessagesDeletedEvent {
  event: typeof EVENTS.messagesDeleted;
  message_ids: number[];
  /** As in message_deleted. */
  copy?: CopyKind;
}

export type RealtimeEvent =
  | NewMessageEvent
  | UnreadCountUpdatedEvent
  | MessageReadEvent
  | MessagesReadEvent
  | MessageUpdatedEvent
  | MessageDeletedEvent
  | MessagesUpdatedEvent
  | MessagesDeletedEvent;

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

export function newMessageEvent(
  message: Pick<MessageT, "id" | "sender_id" | "sender_username" | "title" | "timestamp">,
  unreadCount: number,
): NewMessageEvent {
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

export const messageReadEvent = (messageId: number, readAt: string, readerId: number): MessageReadEvent => ({
  event: EVENTS.messageRead,
  message_id: messageId,
  read_at: readAt,
  reader_id: readerId,
});

// Keeps a frame far below Web PubSub's 1 MB message limit when someone reads a huge backlog.
export const MESSAGES_READ_MAX_IDS = 10_000;

/** One frame for a sender's messages read at once (split only past MESSAGES_READ_MAX_IDS ids). */
export function messagesReadEvents(messageIds: number[], readAt: string, readerId: number): MessagesReadEvent[] {
  const frames: MessagesReadEvent[] = [];
  for (let i = 0; i < messageIds.length; i += MESSAGES_READ_MAX_IDS) {
    frames.push({
      event: EVENTS.messagesRead,
      message_ids: messageIds.slice(i, i + MESSAGES_READ_MAX_IDS),
      read_at: readAt,
      reader_id: readerId,
    });
  }
  return frames;
}

export const messageUpdatedEvent = (messageId: number, state: CopyState, copy: CopyKind = "received"): MessageUpdatedEvent => ({
  event: EVENTS.messageUpdated,
  message_id: messageId,
  copy,
  is_read: state.is_read,
  folder: state.folder,
  is_starred: state.is_starred,
});

export const messagesUpdatedEvent = (messageIds: number[], set: Partial<CopyState>): MessagesUpdatedEvent => ({
  event: EVENTS.messagesUpdated,
  message_ids: messageIds,
  ...set,
});

export const messagesDeletedEvent = (messageIds: number[], copy?: CopyKind): MessagesDeletedEvent => ({
  event: EVENTS.messagesDeleted,
  message_ids: messageIds,
  ...(copy === undefined ? {} : { copy }),
});

export const messageDeletedEvent = (messageId: number, copy?: CopyKind): MessageDeletedEvent => ({
  event: EVENTS.messageDeleted,
  message_id: messageId,
  ...(copy === undefined ? {} : { copy }),
});

/** What a socket gets when it connects: not logged, it says where the user's sequence stands. */
export const connectSnapshot = (unreadCount: number, latestSeq: number): Frame => toFrame(unreadCountUpdatedEvent(unreadCount), latestSeq);
