/** docs/settings.md is the settings reference: every setting the code reads has its row there, and no other. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";

import { SETTINGS } from "../../shared/config/settings";

const reference = readFileSync(path.resolve(__dirname, "../../docs/settings.md"), "utf8");
const rows = new Set(
  [...reference.matchAll(/^\| (.+?) \|/gm)].flatMap(([, cell]) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map(([, name]) => name)),
);

it("docs/settings.md has a row for each setting in shared/config/settings.ts, and none for others", () => {
  expect([...rows].sort()).toEqual(Object.values(SETTINGS).sort());
});
