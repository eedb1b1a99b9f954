/**
 * Ports of the local stack's servers (Functions host, database, Web PubSub stand-in, and any
 * server added later): the port the settings name when it is free, else one the system picks,
 * so a second stack starts beside a running one.
 */
import net from "node:net";

const LOOPBACK = "127.0.0.1";

/** Resolves with whether `port` can be listened on at `host` now. */
export function isPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** A port free at `host` now, picked by the system. */
export function freePort(host = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export type PortWish =
  /** This port or fail (e.g. the addresses local.settings.json gives `func start`). */
  | { exactly: number }
  /** This port when free, else any free one. */
  | { preferably: number }
  /** Any free port. */
  | "any";

/** The port a server should listen on; throws a message naming `what` when an exact port is taken. */
export async function choosePort(what: string, wish: PortWish, host = LOOPBACK): Promise<number> {
  if (wish === "any") return freePort(host);
  if ("exactly" in wish) {
    if (wish.exactly === 0) return freePort(host);
    if (!(await isPortFree(wish.exactly, host)))
      throw new Error(`${what}: port ${wish.exactly} at ${host} is in use (another stack or server is running there)`);
    return wish.exactly;
  }
  if (wish.preferably !== 0 && (await isPortFree(wish.preferably, host))) return wish.preferably;
  return freePort(host);
}
