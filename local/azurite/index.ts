/**
 * Azurite's blob service for the local stack and the tests: a child process (local/azurite/child.cjs)
 * that stops with the stack, and stops by itself when its parent dies. Plain HTTP with the
 * emulator's account key for `npm start`; HTTPS with `--oauth basic` for the identity path, where
 * it answers Get User Delegation Key to a bearer token of the local identity issuer.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** The emulator's one account and its published key (azurite's documentation; not a secret). */
export const AZURITE_ACCOUNT = {
  name: "devstoreaccount1",
  key: "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
} as const;

const START_TIMEOUT_MS = 30_000;

export interface AzuriteOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** A folder to persist to; in memory when absent. */
  location?: string;
  /** Serve HTTPS with this certificate and accept bearer tokens (`--oauth basic`); caFile is the CA that signed it. */
  tls?: { cert: string; key: string; caFile: string };
  /** The container to create, and the origins CORS lets PUT and GET (what the template sets up in Azure). */
  container: string;
  corsOrigins: string[];
  log?: (line: string) => void;
}

export interface Azurite {
  /** The account's blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1. */
  readonly blobEndpoint: string;
  /** An account-key connection string for it. */
  readonly connectionString: string;
  close(): Promise<void>;
}

export function connectionStringFor(blobEndpoint: string): string {
  const protocol = new URL(blobEndpoint).protocol.replace(":", "");
  return `DefaultEndpointsProtocol=${protocol};AccountName=${AZURITE_ACCOUNT.name};AccountKey=${AZURITE_ACCOUNT.key};BlobEndpoint=${blobEndpoint};`;
}

/** The blob endpoint of a connection string when it names azurite on this machine, else null. */
export function localAzuriteEndpoint(connectionString: string | undefined): URL | null {
  const endpoint = /(?:^|;)\s*BlobEndpoint=([^;]+)/i.exec(connectionString ?? "")?.[1];
  if (!endpoint) return null;
  const url = new URL(endpoint);
  return ["127.0.0.1", "localhost"].includes(url.hostname) && url.pathname.replace(/\/$/, "") === `/${AZURITE_ACCOUNT.name}` ? url : null;
}

export async function startAzurite(options: AzuriteOptions): Promise<Azurite> {
  const log = options.log ?? (() => {});
  let tlsDir: string | undefined;
  let files: { cert?: string; key?: string } = {};
  if (options.tls) {
    // azurite reads its certificate from files.
    tlsDir = await mkdtemp(path.join(os.tmpdir(), "realtime-mail-azurite-"));
    files = { cert: path.join(tlsDir, "cert.pem"), key: path.join(tlsDir, "key.pem") };
    await writeFile(files.cert!, options.tls.cert);
    await writeFile(files.key!, options.tls.key, { mode: 0o600 });
  }
  const removeTls = () => (tlsDir ? rm(tlsDir, { recursive: true, force: true }) : Promise.resolve());
  const settings = {
    host: options.host ?? "127.0.0.1",
    port: options.port,
    location: options.location,
    ...files,
    oauth: options.tls ? "basic" : undefined,
    prepare: { account: AZURITE_ACCOUNT, container: options.container, origins: options.corsOrigins },
  };
  const child = spawn(process.execPath, [path.join(__dirname, "child.cjs"), JSON.stringify(settings)], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...(options.tls ? { NODE_EXTRA_CA_CERTS: options.tls.caFile } : {}) },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const output: string[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Closing its stdin lets it close its stores; a kill after a grace period if it hangs.
      child.stdin?.end();
      const grace = setTimeout(() => child.kill("SIGKILL"), 5_000);
      if (child.exitCode === null && child.signalCode === null) await exited;
      clearTimeout(grace);
      await removeTls();
    })();
    return closing;
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`azurite did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      let rest = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          if (line.startsWith("ready ")) {
            clearTimeout(timer);
            resolve(line.slice("ready ".length).trim());
          } else if (line.trim()) log(`azurite: ${line}`);
        }
      });
      child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`azurite exited with code ${code}: ${output.join("").trim()}`));
      });
    });
    const blobEndpoint = `${address}/${AZURITE_ACCOUNT.name}`;
    return { blobEndpoint, connectionString: connectionStringFor(blobEndpoint), close };
  } catch (error) {
    await close();
    throw error;
  }
}
