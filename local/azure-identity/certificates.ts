/**
 * A throwaway certificate authority and one server certificate for 127.0.0.1 and localhost,
 * made with the openssl command line at run time and never written into the repository:
 * the local stand-ins serve TLS the app verifies exactly as it verifies Azure's.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LocalCertificates {
  /** PEM file of the CA, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  ca: string;
  key: string;
  cert: string;
  /** Deletes the folder, keys included. */
  remove(): Promise<void>;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function createLocalCertificates(): Promise<LocalCertificates> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "realtime-mail-tls-"));
  const file = (name: string) => path.join(dir, name);
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await run("openssl", [
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=realtime-mail local test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await run("openssl", ["req", ...EC_KEY, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=localhost"]);
    await writeFile(
      file("server.ext"),
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      file("server.csr"),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-set_serial",
      `0x${Date.now().toString(16)}`,
      "-days",
      "2",
      "-extfile",
      file("server.ext"),
      "-out",
      file("server.pem"),
    ]);
    const [ca, key, cert] = await Promise.all([
      readFile(file("ca.pem"), "utf8"),
      readFile(file("server.key"), "utf8"),
      readFile(file("server.pem"), "utf8"),
    ]);
    await rm(file("ca.key"));
    return { caFile: file("ca.pem"), ca, key, cert, remove };
  } catch (error) {
    await remove();
    const message = (error as NodeJS.ErrnoException).code === "ENOENT" ? "the openssl command is not installed" : (error as Error).message;
    throw new Error(`could not create local TLS certificates: ${message}`);
  }
}
