/** Folders a received copy can be in, and those of the sender's copy. */
export const RECEIVED_FOLDERS = ["inbox", "archive", "trash"] as const;
export const SENT_FOLDERS = ["sent", "trash"] as const;
export const FOLDERS = ["inbox", "archive", "trash", "sent"] as const;
export type Folder = (typeof FOLDERS)[number];
