/**
 * The one rule for text from a client: U+0000 and unpaired surrogates are refused wherever
 * they appear (body, form, query, path, token). PostgreSQL can store neither, so letting them
 * through would turn a client's mistake into a 500.
 */

// With the u flag a surrogate pair is one astral code point, so \p{Cs} matches only a lone half.
// eslint-disable-next-line no-control-regex -- finding U+0000 is the point
const UNSTORABLE_TEXT = /[\u0000\p{Cs}]/u;

export const isStorableText = (text: string): boolean => !UNSTORABLE_TEXT.test(text);
