/** Reads one field of a `Key=Value;Key=Value;` connection string; keys are case-insensitive. */
export function connectionStringField(connectionString: string, name: string): string | undefined {
  for (const part of connectionString.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === name.toLowerCase()) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
