// `npm run start:func`: runs Azure Functions Core Tools against local.settings.json,
// creating it from the committed example on first use. Build first (`npm run build`).
import { spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const settings = path.join(root, "local.settings.json");
if (!existsSync(settings)) {
  copyFileSync(path.join(root, "local.settings.example.json"), settings);
  console.log("created local.settings.json from local.settings.example.json");
}
const func = spawn("func", ["start", ...process.argv.slice(2)], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
func.on("error", (error) => {
  console.error(`could not run Core Tools (func): ${error.message}. Install Azure Functions Core Tools v4.`);
  process.exit(1);
});
func.on("exit", (code) => process.exit(code ?? 0));
