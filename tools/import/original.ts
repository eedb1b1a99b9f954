/**
 * The original service's rows as every source reader hands them over (docs: ORIGINAL.md).
 * Text is already decoded; `timestamp` is the naive UTC time as ISO text, as stored.
 */
export interface OriginalUser {
  id: number;
  username: string;
  password_hash: string;
}

export interface OriginalMessage {
  id: number;
  sender_id: number;
  recipient_id: number;
  title: string;
  body: string;
  /** Naive UTC ("2024-04-27T12:34:56.789"); null when the row has none. */
  timestamp: string | null;
  /** NULL in the original means unread (its frontend shows it so). */
  is_read: boolean | null;
}

export interface SourceTotals {
  users: number;
  messages: number;
  maxUserId: number;
  maxMessageId: number;
}

/** A place the original's rows are read from, in batches; users come in ascending id order. */
export interface OriginalSource {
  /** Where from, without secrets: for the report. */
  readonly description: string;
  totals(): Promise<SourceTotals>;
  users(batchSize: number): AsyncIterable<OriginalUser[]>;
  messages(batchSize: number): AsyncIterable<OriginalMessage[]>;
  close(): Promise<void>;
}
