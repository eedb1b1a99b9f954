/**
 * local.settings.example.json is what `npm run start:func` copies to local.settings.json for Core
 * Tools (`func start`): it must hold every setting the app needs locally, only names the app or the
 * Functions host know, values the app's own validation accepts, and nothing that could be a real secret.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { DEFAULT_HUB, MIN_SECRET_LENGTH, parseConfig } from "../../shared/config/config";
import { connectionStringField } from "../../shared/config/connection-string";
import { SETTINGS } from "../../shared/config/settings";

const ROOT = path.resolve(__dirname, "../..");
const FILE = path.join(ROOT, "local.settings.example.json");

interface LocalSettings {
  IsEncrypted: boolean;
  Values: Record<string, string>;
  Host?: { LocalHttpPort?: number; CORS?: string; CORSCredentials?: boolean };
}

/** Settings the Functions host itself reads locally. */
const HOST_SETTINGS = new Set(["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"]);
const KNOWN = new Set<string>([...Object.values(SETTINGS), ...HOST_SETTINGS]);

describe("local.settings.example.json", () => {
  const example: LocalSettings = existsSync(FILE) ? JSON.parse(readFileSync(FILE, "utf8")) : { IsEncrypted: true, Values: {} };
  const values = example.Values;

  it("exists, next to package.json", () => {
    expect(existsSync(FILE)).toBe(true);
  });

  it("is Core Tools' format, unencrypted, for the Node worker with Azurite as the host's storage", () => {
    expect(example.IsEncrypted).toBe(false);
    expect(values.FUNCTIONS_WORKER_RUNTIME).toBe("node");
    expect(values.AzureWebJobsStorage).toBe("UseDevelopmentStorage=true");
    for (const [name, value] of Object.entries(values)) expect(typeof value, name).toBe("string"); // Core Tools reads strings only
  });

  it("supplies every setting the app needs locally, under names the app or the host know", () => {
    for (const name of [
      SETTINGS.secretKey,
      SETTINGS.databaseUrl,
      SETTINGS.webPubSubConnectionString,
      SETTINGS.webPubSubHub,
      SETTINGS.webPubSubEventHandlerKey,
    ]) {
      expect(Object.keys(values), name).toContain(name);
    }
    for (const name of Object.keys(values)) expect(KNOWN.has(name), name).toBe(true);
    // The Azure-only settings would switch the app to Entra sign-in, which cannot work locally.
    for (const name of [SETTINGS.postgresHost, SETTINGS.webPubSubEndpoint, SETTINGS.azureClientId])
      expect(Object.keys(values)).not.toContain(name);
  });

  it("relaxes the per-address limits for a developer (one address, many accounts and tries), and only those", () => {
    const local = parseConfig(values).throttle;
    const production = parseConfig({ SECRET_KEY: values[SETTINGS.secretKey], DATABASE_URL: values[SETTINGS.databaseUrl] }).throttle;
    expect(local.registration.perAddress).toBeGreaterThanOrEqual(100 * production.registration.perAddress);
    expect(local.login.failuresPerAddress).toBeGreaterThanOrEqual(100 * production.login.failuresPerAddress);
    // Per account and address, windows and blocks stay as deployed.
    expect(local.login.failuresPerUserAddress).toBe(production.login.failuresPerUserAddress);
    expect({ ...local.login, failuresPerAddress: 0 }).toEqual({ ...production.login, failuresPerAddress: 0 });
    expect(local.registration.windowSeconds).toBe(production.registration.windowSeconds);
  });

  it("keeps its relaxed limits out of the deployment: the Bicep leaves them to the code's defaults or sets values of its own", () => {
    const bicep = readFileSync(path.join(ROOT, "infra", "main.bicep"), "utf8");
    for (const name of [SETTINGS.loginFailuresPerAddress, SETTINGS.registrationsPerAddress]) {
      const set = new RegExp(`^\\s*${name}:\\s*(.+)$`, "m").exec(bicep);
      if (set) expect(set[1], name).not.toContain(values[name]);
    }
  });

  it("passes the app's own validation: a database URL and Web PubSub by connection string", () => {
    const config = parseConfig(values);
    expect(config.database.kind).toBe("url");
    expect(config.webPubSub.kind).toBe("connectionString");
    expect(config.hub).toBe(DEFAULT_HUB);
    expect(config.eventHandlerKey).toBe(values[SETTINGS.webPubSubEventHandlerKey]);
  });

  it("points at the local services: PostgreSQL and the Web PubSub stand-in on this machine", () => {
    const database = new URL(values[SETTINGS.databaseUrl]);
    expect(database.protocol).toMatch(/^postgres(ql)?:$/);
    expect(["127.0.0.1", "localhost"]).toContain(database.hostname);
    const connectionString = values[SETTINGS.webPubSubConnectionString];
    expect(connectionString).toMatch(/^Endpoint=http:\/\/(127\.0\.0\.1|localhost);/);
    expect(connectionStringField(connectionString, "Port")).toBe("7072");
    expect(connectionStringField(connectionString, "AccessKey")).toBeTruthy();
  });

  it("holds only development values that say so, long enough for the app's checks", () => {
    const secret = values[SETTINGS.secretKey];
    expect(secret.length).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    for (const value of [
      secret,
      connectionStringField(values[SETTINGS.webPubSubConnectionString], "AccessKey") ?? "",
      values[SETTINGS.webPubSubEventHandlerKey],
    ]) {
      expect(value).toMatch(/local/i);
      expect(value).toMatch(/development|dev-only|never/i);
    }
    expect(JSON.stringify(values)).not.toMatch(/\.azure\.com|\.windows\.net|vault\.azure|@Microsoft\.KeyVault/);
  });

  it("serves the API on 7071 and allows the usual frontend dev servers, without credentials", () => {
    expect(example.Host?.LocalHttpPort).toBe(7071);
    expect(
      String(example.Host?.CORS)
        .split(",")
        .map((o) => o.trim()),
    ).toEqual(expect.arrayContaining(["http://localhost:3000", "http://localhost:5173"]));
    expect(example.Host?.CORSCredentials).toBe(false);
  });

  it("is copied to local.settings.json, which git and the deployment never carry", () => {
    const lines = (file: string) =>
      readFileSync(path.join(ROOT, file), "utf8")
        .split("\n")
        .map((l) => l.trim());
    expect(lines(".gitignore")).toContain("local.settings.json");
    expect(lines(".funcignore")).toContain("local.settings.json");
    expect(readFileSync(path.join(ROOT, "scripts/start-func.mjs"), "utf8")).toMatch(
      /copyFileSync\(path\.join\(root, "local\.settings\.example\.json"\), settings\)/,
    );
  });
});
