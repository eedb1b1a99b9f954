/** Reads local.settings.json (or the committed example) the way Core Tools does. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

const LocalSettingsFile = z.object({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.string()).default({}),
  Host: z
    .object({
      LocalHttpPort: z.coerce.number().int().optional(),
      CORS: z.string().optional(),
      CORSCredentials: z.boolean().optional(),
    })
    .default({}),
});

export type LocalSettings = z.infer<typeof LocalSettingsFile> & { file: string };

export const SETTINGS_FILE = "local.settings.json";
export const EXAMPLE_SETTINGS_FILE = "local.settings.example.json";

export function readLocalSettings(root: string): LocalSettings {
  const own = path.join(root, SETTINGS_FILE);
  const file = existsSync(own) ? own : path.join(root, EXAMPLE_SETTINGS_FILE);
  const parsed = LocalSettingsFile.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) throw new Error(`${path.basename(file)} is not a valid settings file: ${parsed.error.message}`);
  return { ...parsed.data, file };
}

/** Values go into the environment unless the environment already sets them. */
export function applyValues(values: Record<string, string>, env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(values)) if (env[name] === undefined) env[name] = value;
}

export function readHostJson(root: string): { routePrefix: string } {
  const host = JSON.parse(readFileSync(path.join(root, "host.json"), "utf8")) as { extensions?: { http?: { routePrefix?: string } } };
  return { routePrefix: host.extensions?.http?.routePrefix ?? "api" };
}
