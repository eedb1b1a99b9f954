/**
 * shared/'s layers hold one direction (eslint.config.mjs): every folder may import its own layer
 * and those below it, and `npm run lint` fails on any import the other way, whether it is an
 * import declaration, a re-export, import() or require().
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
// Bottom to top; a layer may import the ones before it, except that data and storage are
// siblings (neither imports the other). realtime may import auth; auth never imports realtime.
const ORDER = ["domain", "config", "data", "storage", "auth", "realtime", "http"];
const mayImport = (from: string, to: string) =>
  from === to || (ORDER.indexOf(to) < ORDER.indexOf(from) && !(from === "storage" && to === "data"));

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

async function layeringErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "no-restricted-syntax").map((m) => m.message);
}

describe("shared/ layers", () => {
  it("every folder of shared/ has its place in the order, so the rule covers it", async () => {
    // @ts-expect-error -- the ESLint config is plain JavaScript without declarations
    const { LAYERS } = (await import("../../eslint.config.mjs")) as { LAYERS: Record<string, string[]> };
    const folders = readdirSync(path.join(ROOT, "shared"), { withFileTypes: true }).filter((entry) => entry.isDirectory());
    expect(folders.map((entry) => entry.name).sort()).toEqual(Object.keys(LAYERS).sort());
    expect(Object.keys(LAYERS).sort()).toEqual([...ORDER].sort());
  });

  const pairs = ORDER.flatMap((from) => ORDER.filter((to) => to !== from).map((to) => [from, to] as const));

  it.each(pairs)("shared/%s importing shared/%s follows the order", async (from, to) => {
    const errors = await layeringErrors(`shared/${from}/example.ts`, `export { x } from "../${to}/module";\n`);
    if (mayImport(from, to)) expect(errors).toEqual([]);
    else expect(errors).toEqual([expect.stringContaining(`shared/${to} is not below it`)]);
  });

  it("auth never imports realtime, in any spelling: declaration, type, import(), require()", async () => {
    const code = [
      'import { a } from "../realtime/realtime";',
      'import type { B } from "../../shared/realtime/events";',
      'export const c = () => import("../realtime/sweep");',
      'export const d = require("../realtime/socket-limits");',
    ].join("\n");
    expect(await layeringErrors("shared/auth/example.ts", code)).toHaveLength(4);
  });

  it("nothing in shared/ imports tools/ or functions/; tools/ and functions/ may import shared/", async () => {
    expect(await layeringErrors("shared/domain/example.ts", 'import { run } from "../../tools/import/run";\n')).toHaveLength(1);
    expect(await layeringErrors("shared/http/example.ts", 'import "../../functions/health";\n')).toHaveLength(1);
    expect(await layeringErrors("tools/import/example.ts", 'import { getPool } from "../../shared/data/db";\n')).toEqual([]);
    expect(await layeringErrors("functions/example.ts", 'import { ok } from "../shared/http/http";\n')).toEqual([]);
  });
});
