/** Folders a received copy can be in, and those of the sender's copy. */
export const RECEIVED_FOLDERS = ["inbox", "archive", "trash"] as const;
export const SENT_FOLDERS = ["sent", "trash"] as const;
export const FOLDERS = ["inbox", "archive", "trash", "sent"] as const;
export type Folder = (typeof FOLDERS)[number];

/**
 * A party's copy of a message: `received` (a recipient's) or `sent` (the sender's). A note to
 * oneself gives its sender both under one message id, and this names one of them.
 */
export const COPY_KINDS = ["received", "sent"] as const;
export type CopyKind = (typeof COPY_KINDS)[number];
