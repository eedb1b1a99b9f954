/**
 * One naming rule for functions/: the file, the function's name and its export say the same
 * thing (messages-mark-read.ts registers "messages-mark-read" and exports messagesMarkRead),
 * so a function found by any of the three is found by the others.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const DIR = path.resolve(__dirname, "../../functions");
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".ts"));
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

describe("functions/", () => {
  it.each(FILES)("%s: registered under its file name and exported as its camelCase", (file) => {
    const name = file.replace(/\.ts$/, "");
    const text = readFileSync(path.join(DIR, file), "utf8");
    expect(text).toContain(`name: "${name}"`);
    expect(text).toMatch(new RegExp(`^export const ${camel(name)}\\b`, "m"));
  });
});
