/**
 * Sizes of the scale tests. `npm test` runs each at a size that exercises its mechanism in
 * seconds; `npm run test:full-scale` (TEST_SCALE=full) runs those whose size matters at the size
 * their guarantee names, in minutes; CI runs both.
 * A test's own variable (e.g. MAIL_MIGRATION_ROWS) overrides both.
 */
export function scaleSize(variable: string, full: number, quick: number): number {
  const own = process.env[variable];
  if (own) return Number(own);
  return process.env.TEST_SCALE === "full" ? full : quick;
}
