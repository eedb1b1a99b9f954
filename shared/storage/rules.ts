/**
 * What a file may be called and how a download presents it: rules with no dependency, shared by
 * the upload slot's validation and the download URL's response overrides.
 */

/** Content types a browser may show inline without running anything: raster images, PDF, plain text. */
export const SAFE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/bmp",
  "application/pdf",
  "text/plain",
]);

export const FILENAME_MAX = 255;

// C0 and C1 controls, the bidirectional marks, embeddings, overrides and isolates, and path separators.
const FORBIDDEN_IN_FILENAME = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069/\\]/u;

/** Why a filename is refused, or null when it is fine. */
export function filenameProblem(filename: string): string | null {
  if (FORBIDDEN_IN_FILENAME.test(filename)) return "Filename must not contain control, bidirectional or path characters (/ \\)";
  if (filename.trim() === "" || filename === "." || filename === "..") return "Filename must name a file";
  return null;
}

/** The type a download is served as: the declared one when it is safe to show, else bytes. */
export const servedContentType = (contentType: string): string =>
  SAFE_CONTENT_TYPES.has(contentType) ? contentType : "application/octet-stream";

/** RFC 8187 encoding of a header parameter: UTF-8, percent-encoded outside attr-char. */
const encodeParameter = (value: string): string =>
  encodeURIComponent(value).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Always `attachment`, so that no upload is ever rendered as a page of the storage origin. */
export const attachmentDisposition = (filename: string): string => `attachment; filename*=UTF-8''${encodeParameter(filename)}`;
