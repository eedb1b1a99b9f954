import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { ConfigError, DEFAULT_HUB, parseConfig, parseDatabaseConfig } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { poolConfig } from "../../shared/data/db";

const base = { SECRET_KEY: "a-perfectly-fine-secret-key-with-entropy-0123", DATABASE_URL: "postgresql://u:p@h:5432/d" };

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("names a missing SECRET_KEY", () => {
    expect(problemsOf({ DATABASE_URL: base.DATABASE_URL })).toEqual(["SECRET_KEY is required"]);
  });

  it.each([["short"], ["secret"], ["a".repeat(40)], ["@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/jwt-secret/)"]])(
    "refuses a weak or unresolved SECRET_KEY %#",
    (secret) => {
      const problems = problemsOf({ ...base, SECRET_KEY: secret });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^SECRET_KEY /);
    },
  );

  it("needs a database: a URL or the Entra trio", () => {
    expect(problemsOf({ SECRET_KEY: base.SECRET_KEY })[0]).toMatch(/^DATABASE_URL is required/);
    const entra = parseConfig({
      SECRET_KEY: base.SECRET_KEY,
      POSTGRES_HOST: "pg.example",
      POSTGRES_DATABASE: "mail",
      POSTGRES_USER: "id-app",
    });
    expect(entra.database).toEqual({ kind: "entra", host: "pg.example", port: 5432, database: "mail", user: "id-app", ssl: true });
    const pool = poolConfig(entra);
    expect(typeof pool.password).toBe("function");
    expect(pool.ssl).toEqual({ rejectUnauthorized: true });
  });

  it("applies defaults and names bad numbers", () => {
    const config = parseConfig(base);
    expect(config.accessTokenExpireMinutes).toBe(30);
    expect(config.hub).toBe(DEFAULT_HUB);
    expect(config.webPubSub).toEqual({ kind: "none" });
    expect(config.pool.max).toBeLessThanOrEqual(10);
    expect(problemsOf({ ...base, ACCESS_TOKEN_EXPIRE_MINUTES: "soon", DB_POOL_MAX: "0" })).toEqual([
      expect.stringMatching(/^DB_POOL_MAX /),
      expect.stringMatching(/^ACCESS_TOKEN_EXPIRE_MINUTES /),
    ]);
  });

  it("throttles logins and registrations by default, and names bad limits", () => {
    const config = parseConfig(base);
    expect(config.throttle).toEqual({
      login: { failuresPerUserAddress: 10, failuresPerAddress: 100, windowSeconds: 3600, blockSeconds: 900 },
      registration: { perAddress: 20, windowSeconds: 3600 },
      attempts: { perAccount: 30, perAddress: 300, windowSeconds: 900 },
    });
    expect(config.sendLimits).toEqual({ burst: 20, burstSeconds: 60, perHour: 60, perRecipientPerHour: 200 });
    expect(config.listMaxBytes).toBe(1024 * 1024);
    expect(problemsOf({ ...base, SEND_LIMIT_BURST: "0", LIST_MAX_BYTES: "100" })).toEqual([
      expect.stringMatching(/^SEND_LIMIT_BURST /),
      expect.stringMatching(/^LIST_MAX_BYTES /),
    ]);
    expect(
      problemsOf({ ...base, LOGIN_FAILURES_PER_USER_ADDRESS: "0", LOGIN_BLOCK_SECONDS: "soon", REGISTRATIONS_PER_ADDRESS: "-1" }),
    ).toEqual([
      expect.stringMatching(/^LOGIN_FAILURES_PER_USER_ADDRESS /),
      expect.stringMatching(/^LOGIN_BLOCK_SECONDS /),
      expect.stringMatching(/^REGISTRATIONS_PER_ADDRESS /),
    ]);
  });

  it("hashes passwords on automatically sized threads unless told a number (0: on the request thread), waiting at most the budget", () => {
    expect(parseConfig(base).passwordHashing).toEqual({ threads: "auto", queueMax: 100, maxWaitMs: 2000 });
    expect(parseConfig({ ...base, PASSWORD_HASH_MAX_WAIT_MS: "0" }).passwordHashing.maxWaitMs).toBe(0);
    for (const bad of ["-1", "60001", "2s"])
      expect(problemsOf({ ...base, PASSWORD_HASH_MAX_WAIT_MS: bad }), bad).toEqual([expect.stringMatching(/^PASSWORD_HASH_MAX_WAIT_MS /)]);
    expect(parseConfig({ ...base, PASSWORD_HASH_THREADS: " auto " }).passwordHashing.threads).toBe("auto");
    expect(parseConfig({ ...base, PASSWORD_HASH_THREADS: "0" }).passwordHashing.threads).toBe(0);
    expect(parseConfig({ ...base, PASSWORD_HASH_THREADS: "3" }).passwordHashing.threads).toBe(3);
    for (const bad of ["17", "-1", "1.5", "many"])
      expect(problemsOf({ ...base, PASSWORD_HASH_THREADS: bad }), bad).toEqual([
        expect.stringMatching(/^PASSWORD_HASH_THREADS must be auto or/),
      ]);
    expect(problemsOf({ ...base, PASSWORD_HASH_QUEUE_MAX: "0" })).toEqual([expect.stringMatching(/^PASSWORD_HASH_QUEUE_MAX /)]);
  });

  it("picks Web PubSub by connection string, else by endpoint", () => {
    expect(parseConfig({ ...base, WEBPUBSUB_CONNECTION_STRING: "Endpoint=http://x;AccessKey=k;" }).webPubSub.kind).toBe("connectionString");
    expect(parseConfig({ ...base, WEBPUBSUB_ENDPOINT: "https://wps.example" }).webPubSub).toEqual({
      kind: "identity",
      endpoint: "https://wps.example",
    });
    expect(problemsOf({ ...base, WEBPUBSUB_HUB: "bad hub" })[0]).toMatch(/^WEBPUBSUB_HUB /);
  });

  it("the migrate command needs only the database settings", () => {
    expect(parseDatabaseConfig({ DATABASE_URL: base.DATABASE_URL }).database).toEqual({ kind: "url", url: base.DATABASE_URL });
    expect(() => parseDatabaseConfig({})).toThrow(/DATABASE_URL is required/);
  });

  describe("stops on a Key Vault reference Azure could not resolve", () => {
    const reference = (secret: string) => `@Microsoft.KeyVault(SecretUri=https://kv-abc.vault.azure.net/secrets/${secret}/)`;
    const unresolved = (name: string) => `${name} is an unresolved Key Vault reference (check the app's access to the vault)`;

    it("in SECRET_KEY", () => {
      expect(problemsOf({ ...base, SECRET_KEY: reference("jwt-secret") })).toEqual([unresolved("SECRET_KEY")]);
    });

    it("in WEBPUBSUB_EVENT_HANDLER_KEY", () => {
      // Otherwise the reference text itself would become the key the events endpoint accepts.
      expect(problemsOf({ ...base, WEBPUBSUB_EVENT_HANDLER_KEY: reference("event-handler-key") })).toEqual([
        unresolved("WEBPUBSUB_EVENT_HANDLER_KEY"),
      ]);
    });

    it("in the older VaultName/SecretName form, and next to other problems", () => {
      expect(
        problemsOf({ ...base, WEBPUBSUB_EVENT_HANDLER_KEY: " @Microsoft.KeyVault(VaultName=kv-abc;SecretName=key)", DB_POOL_MAX: "0" }),
      ).toEqual([unresolved("WEBPUBSUB_EVENT_HANDLER_KEY"), expect.stringMatching(/^DB_POOL_MAX /)]);
    });

    it("in the database settings the migrate command reads", () => {
      expect(() => parseDatabaseConfig({ DATABASE_URL: reference("database-url") })).toThrow(unresolved("DATABASE_URL"));
    });

    it("in every setting the deployment fills from Key Vault", () => {
      const bicep = readFileSync(path.resolve(__dirname, "../../infra/main.bicep"), "utf8");
      const fromVault = [...bicep.matchAll(/^\s*(\w+): '@Microsoft\.KeyVault\(/gm)].map((m) => m[1]);
      expect(fromVault).toEqual(expect.arrayContaining([SETTINGS.secretKey, SETTINGS.webPubSubEventHandlerKey]));
      for (const name of fromVault) {
        expect(Object.values(SETTINGS), name).toContain(name);
        expect(problemsOf({ ...base, [name]: reference(name.toLowerCase()) }), name).toEqual([unresolved(name)]);
      }
    });
  });

  it("never puts a secret into an error message", () => {
    const problems = problemsOf({ ...base, SECRET_KEY: "tooshort-but-secret" });
    expect(problems.join(" ")).not.toContain("tooshort-but-secret");
  });
});

describe("in Azure", () => {
  const example = (
    JSON.parse(readFileSync(path.resolve(__dirname, "../../local.settings.example.json"), "utf8")) as { Values: Record<string, string> }
  ).Values;
  // What Flex Consumption sets (WEBSITE_SKU once the site's settings arrive; LEGION_SERVICE_HOST and WEBSITE_POD_NAME always).
  const azure = {
    WEBSITE_SKU: "FlexConsumption",
    WEBSITE_SITE_NAME: "func-api-abc",
    LEGION_SERVICE_HOST: "10.0.0.4",
    WEBSITE_POD_NAME: "func-api-abc-pod",
  };
  const fine = { ...base, ...azure, WEBPUBSUB_EVENT_HANDLER_KEY: "k".repeat(16) + "0123456789abcdef" };
  const secretsOfExample = [
    example.SECRET_KEY,
    example.WEBPUBSUB_EVENT_HANDLER_KEY,
    example.WEBPUBSUB_CONNECTION_STRING,
    example.DATABASE_URL,
  ];
  const noValueIn = (problems: string[]) => {
    for (const secret of secretsOfExample) expect(problems.join(" ")).not.toContain(secret);
  };

  it("starts with settings of its own", () => {
    expect(parseConfig(fine).eventHandlerKey).toHaveLength(32);
  });

  it("refuses the example's SECRET_KEY and event-handler key, naming each setting and not its value", () => {
    const problems = problemsOf({
      ...fine,
      SECRET_KEY: example.SECRET_KEY,
      WEBPUBSUB_EVENT_HANDLER_KEY: example.WEBPUBSUB_EVENT_HANDLER_KEY,
    });
    expect(problems).toEqual([
      expect.stringMatching(/^SECRET_KEY is marked local-development-only/),
      expect.stringMatching(/^WEBPUBSUB_EVENT_HANDLER_KEY is marked local-development-only/),
    ]);
    noValueIn(problems);
  });

  it("refuses every value `func azure functionapp publish --publish-local-settings` would copy from the example, but not its production defaults", () => {
    const problems = problemsOf({ ...example, ...azure });
    const named = problems.map((p) => p.split(" ")[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        "SECRET_KEY",
        "DATABASE_URL",
        "WEBPUBSUB_CONNECTION_STRING",
        "WEBPUBSUB_EVENT_HANDLER_KEY",
        "LOGIN_FAILURES_PER_ADDRESS",
        "REGISTRATIONS_PER_ADDRESS",
      ]),
    );
    for (const harmless of ["ACCESS_TOKEN_EXPIRE_MINUTES", "BCRYPT_COST", "WEBPUBSUB_HUB", "PASSWORD_HASH_THREADS"])
      expect(named).not.toContain(harmless);
    noValueIn(problems);
  });

  it("refuses any value marked local-development-only, copied or edited", () => {
    const problems = problemsOf({ ...fine, SECRET_KEY: "my-own-local-development-only-secret-0123456789abcdef" });
    expect(problems).toEqual([expect.stringMatching(/^SECRET_KEY is marked local-development-only/)]);
    expect(problems[0]).not.toContain("my-own");
  });

  it("refuses an event-handler key under 32 characters, even of one character", () => {
    for (const key of ["x", "k".repeat(31)]) {
      const problems = problemsOf({ ...fine, WEBPUBSUB_EVENT_HANDLER_KEY: key });
      expect(problems).toEqual(["WEBPUBSUB_EVENT_HANDLER_KEY must be at least 32 characters in Azure (use a long random value)"]);
    }
  });

  it("knows Azure by any of the platform's own variables, and Core Tools or this machine as not Azure", () => {
    const local = { ...base, SECRET_KEY: example.SECRET_KEY, WEBPUBSUB_EVENT_HANDLER_KEY: "x" };
    expect(() => parseConfig(local)).not.toThrow();
    expect(() => parseConfig({ ...local, ...azure, FUNCTIONS_CORETOOLS_ENVIRONMENT: "true" })).not.toThrow();
    for (const marker of ["WEBSITE_INSTANCE_ID", "WEBSITE_SKU", "LEGION_SERVICE_HOST", "WEBSITE_POD_NAME"]) {
      expect(problemsOf({ ...local, [marker]: "set by the platform" }).length, marker).toBe(2);
    }
  });
});
