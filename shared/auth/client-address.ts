/**
 * The address of the client that sent a request, as the platform reports it: the LAST entry of
 * `X-Forwarded-For`, which App Service's front end (also Flex Consumption's) appends after
 * whatever the client sent, so only it cannot be forged. Behind Azure Front Door that entry is
 * Front Door's (see docs/reliability.md, Client address, for the sources and what to do there).
 * Locally the host writes the socket's address into the header, so tests run exactly this code.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { HttpRequest } from "@azure/functions";

export const CLIENT_ADDRESS_HEADER = "x-forwarded-for";

/** Where no usable address is reported (e.g. `func start`, which adds no header): one shared bucket. */
export const UNKNOWN_ADDRESS = "unknown";

/** The address in one `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:5678`, `2001:db8::1`. */
export function parseAddress(entry: string): string | null {
  let value = entry.trim().replace(/^"(.*)"$/, "$1");
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) value = bracketed[1];
  else if (/^[\d.]+:\d{1,5}$/.test(value)) value = value.slice(0, value.lastIndexOf(":"));
  value = value.replace(/%.*$/, ""); // a zone id (fe80::1%eth0) names the local interface, not the client
  if (isIPv4(value)) return value;
  if (!isIPv6(value)) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(value);
  return mapped && isIPv4(mapped[1]) ? mapped[1] : value.toLowerCase();
}

/** The eight 16-bit groups of an IPv6 address (which parseAddress has already validated). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split(".").map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill("0"), ...right].map((g) => parseInt(g, 16));
}

/**
 * The key counters use for an address. An IPv6 client is usually given a whole /64 and can pick
 * any address in it, so it counts as its /64; an IPv4 address counts as itself.
 */
export function addressKey(address: string): string {
  if (isIPv4(address) || address === UNKNOWN_ADDRESS) return address;
  const prefix = ipv6Groups(address)
    .slice(0, 4)
    .map((g) => g.toString(16));
  return `${prefix.join(":")}::/64`;
}

/** The client's address as counters key it: the last `X-Forwarded-For` entry (see above). */
export function clientAddress(request: HttpRequest): string {
  const entries = (request.headers.get(CLIENT_ADDRESS_HEADER) ?? "").split(",");
  const address = parseAddress(entries[entries.length - 1]);
  return address ? addressKey(address) : UNKNOWN_ADDRESS;
}
