/** Loads every function file, as the worker loads `main`, and returns what they registered. */
import { readdirSync } from "node:fs";
import path from "node:path";

import { installFunctionsCore, registeredFunctions, type RegisteredFunction } from "./functions-core";

export async function loadFunctions(dir: string, extension = ".ts"): Promise<RegisteredFunction[]> {
  installFunctionsCore();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(extension) && !f.endsWith(".d.ts"))
    .sort()) {
    await import(path.join(dir, file));
  }
  return registeredFunctions();
}
