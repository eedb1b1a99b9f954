/**
 * The rules for usernames, in one place, for registration, migration 9 and the import: a new name
 * is NFKC-normalised and trimmed (normalizeUsername), may not hold invisible or reordering
 * controls (usernameProblem; right-to-left scripts are fine), and collides with another when they
 * are equal ignoring case or share a UTS #39 confusable skeleton, with case kept or folded
 * (usernameSkeletons, usernameKeys, usernamesCollide). The mapping is `unhomoglyph`'s, generated
 * from Unicode's confusables.txt (Unicode 13: newer characters collide only by case).
 */

// Loaded on first use: building its matcher costs more than the rest of this module, and only
// registration needs it, not every function that looks a user up by name.
let mapConfusables: ((text: string) => string) | undefined;
function unhomoglyph(text: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load of the package's documented entry
  mapConfusables ??= require("unhomoglyph") as (text: string) => string;
  return mapConfusables(text);
}

/**
 * Characters no username may hold: controls (Cc), formatting characters (Cf: zero-width spaces,
 * joiners, the bidirectional embeddings, overrides and isolates such as U+202E), the remaining
 * Bidi_Control marks, characters that render as nothing (Default_Ignorable_Code_Point, e.g. the
 * Hangul fillers), private-use, unassigned and surrogate code points, and line or paragraph separators.
 */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Default_Ignorable_Code_Point}]/u;

export const FORBIDDEN_CHARACTERS_MESSAGE = "Username must not contain control, invisible or bidirectional formatting characters";

/** NFKC before anything else, so that width and compatibility variants are the name they show. */
export const normalizeUsername = (raw: string): string => raw.normalize("NFKC").trim();

/** Why `name` (already normalised) may not be registered, or null when it may. Length is the schema's rule. */
export function usernameProblem(name: string): string | null {
  return FORBIDDEN.test(name) ? FORBIDDEN_CHARACTERS_MESSAGE : null;
}

/** The UTS #39 skeleton of `text`: equal skeletons mean the texts can be mistaken for each other. */
export const confusableSkeleton = (text: string): string => unhomoglyph(text.normalize("NFD")).normalize("NFD");

/**
 * The skeletons under which `name` is unique: with case kept, and with case folded (before and
 * after mapping, as a mapped character may be a capital). Computed from the NFKC form, so names
 * stored before normalisation existed get the skeletons of what they display.
 */
export function usernameSkeletons(name: string): { cased: string; folded: string } {
  const normal = name.normalize("NFKC");
  return { cased: confusableSkeleton(normal), folded: confusableSkeleton(confusableSkeleton(normal.toLowerCase()).toLowerCase()) };
}

/** The collision keys of `name`: its skeletons, each once. */
export function usernameKeys(name: string): string[] {
  const { cased, folded } = usernameSkeletons(name);
  return cased === folded ? [folded] : [cased, folded];
}

/** Whether two names may not both exist. */
export function usernamesCollide(a: string, b: string): boolean {
  const keys = new Set(usernameKeys(a));
  return usernameKeys(b).some((key) => keys.has(key));
}
