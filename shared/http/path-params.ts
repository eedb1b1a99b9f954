/**
 * Route parameters whose percent-encoding does not decode (`%zz`, or escapes of bytes that are
 * not UTF-8). The Functions host (Kestrel) leaves such escapes in the value as sent, so a
 * function can still receive one; the local host refuses the path itself. Either way the
 * path names nothing, and the answer is the same 404.
 */
const BROKEN_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

function decodes(run: string): boolean {
  try {
    decodeURIComponent(run);
    return true;
  } catch {
    return false;
  }
}

export function hasUndecodableEscape(value: string): boolean {
  return BROKEN_ESCAPE.test(value) || (value.match(ESCAPE_RUN) ?? []).some((run) => !decodes(run));
}

export const pathParamsDecodable = (params: Readonly<Record<string, string>>): boolean => !Object.values(params).some(hasUndecodableEscape);
