import type { AddressInfo, Server } from "node:net";

/**
 * Binds a server of the local stack (0 picks a free port) and resolves with its port once it
 * listens, or rejects when it cannot bind (the port is taken), leaving no stray error listener.
 */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
