/** The client address counters use: the entry of X-Forwarded-For that Azure's front end appends. */
import { HttpRequest } from "@azure/functions";
import { describe, expect, it } from "vitest";

import { addressKey, clientAddress, parseAddress, UNKNOWN_ADDRESS } from "../../shared/auth/client-address";

const withForwardedFor = (value?: string) =>
  new HttpRequest({ method: "POST", url: "http://localhost/token", headers: value === undefined ? {} : { "x-forwarded-for": value } });

describe("client address", () => {
  it("is the last X-Forwarded-For entry: what the client wrote before it is ignored", () => {
    expect(clientAddress(withForwardedFor("203.0.113.7, 198.51.100.20:49828"))).toBe("198.51.100.20");
    expect(clientAddress(withForwardedFor("unknown, 10.1.2.3:443"))).toBe("10.1.2.3");
    expect(clientAddress(withForwardedFor("1.1.1.1,2.2.2.2,3.3.3.3"))).toBe("3.3.3.3");
  });

  it("reads the forms the front end writes: ip, ip:port, [ipv6]:port, bare and IPv4-mapped IPv6", () => {
    expect(parseAddress("198.51.100.20")).toBe("198.51.100.20");
    expect(parseAddress(" 198.51.100.20:61598 ")).toBe("198.51.100.20");
    expect(parseAddress("[2001:db8::1]:443")).toBe("2001:db8::1");
    expect(parseAddress("[2001:DB8::1]")).toBe("2001:db8::1");
    expect(parseAddress("2001:db8::1")).toBe("2001:db8::1");
    expect(parseAddress("::ffff:192.0.2.9")).toBe("192.0.2.9");
    expect(parseAddress("[::ffff:192.0.2.9]:5000")).toBe("192.0.2.9");
    expect(parseAddress("fe80::1%eth0")).toBe("fe80::1");
    expect(parseAddress('"192.0.2.1"')).toBe("192.0.2.1");
  });

  it("refuses anything that is not an address", () => {
    for (const junk of ["", "unknown", "example.com", "999.1.1.1", "1.2.3.4:port", "1.2.3.4:123456", "[1.2.3.4]x", "::g"]) {
      expect(parseAddress(junk), junk).toBeNull();
    }
    expect(clientAddress(withForwardedFor())).toBe(UNKNOWN_ADDRESS);
    expect(clientAddress(withForwardedFor("1.2.3.4, nonsense"))).toBe(UNKNOWN_ADDRESS);
  });

  it("counts an IPv6 client by its /64, which it can freely pick addresses from", () => {
    const a = clientAddress(withForwardedFor("[2001:db8:1:2:aaaa::1]:1000"));
    const b = clientAddress(withForwardedFor("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"));
    const other = clientAddress(withForwardedFor("2001:db8:1:3::1"));
    expect(a).toBe("2001:db8:1:2::/64");
    expect(b).toBe(a);
    expect(other).not.toBe(a);
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("64:ff9b::192.0.2.33")).toBe("64:ff9b:0:0::/64");
    expect(addressKey("192.0.2.1")).toBe("192.0.2.1");
  });
});
