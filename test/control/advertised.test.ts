/**
 * What a control plane tells others it is: the names its server certificate carries, so that a
 * client on another host can verify it by the address it dials, and the address a standby
 * names the leader by (#29).
 */
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { advertisedAddress, serverCertificateNames } from "../../src/control/lifecycle/advertised.js";

describe("serverCertificateNames", () => {
  const host = ["198.18.7.1", "10.0.0.5"];

  test.each([
    ["0.0.0.0:7700", [...host, "127.0.0.1", "localhost", hostname()]],
    ["[::]:7700", [...host, "127.0.0.1", "localhost", hostname()]],
    [":7700", [...host, "127.0.0.1", "localhost", hostname()]],
  ])("listening on the wildcard %s names the host's own addresses", (listen, names) => {
    expect(serverCertificateNames(listen, [], host)).toEqual(names);
  });

  test("listening on one address names that address, not the host's others", () => {
    expect(serverCertificateNames("198.18.7.1:7700", [], host)).toEqual(["198.18.7.1", "127.0.0.1", "localhost", hostname()]);
  });

  test("every --advertise name is added once", () => {
    expect(serverCertificateNames("0.0.0.0:7700", ["cp.internal", "198.18.7.1"], host)).toEqual([...host, "127.0.0.1", "localhost", hostname(), "cp.internal"]);
  });
});

describe("advertisedAddress", () => {
  const host = ["198.18.7.2", "10.0.0.5"];

  test("listening on one address, it is that address", () => {
    expect(advertisedAddress("198.18.7.2:7700", ["cp.internal"], host)).toBe("198.18.7.2:7700");
  });

  test("on a wildcard, the host's first address: not its hostname, which may resolve nowhere (and is one name for every namespace of a host)", () => {
    expect(advertisedAddress("0.0.0.0:7700", [], host)).toBe("198.18.7.2:7700");
    expect(advertisedAddress("[::]:7700", [], host)).toBe("198.18.7.2:7700");
  });

  test("on a wildcard with --advertise, the first name given", () => {
    expect(advertisedAddress("0.0.0.0:7700", ["cp.internal", "10.0.0.5"], host)).toBe("cp.internal:7700");
  });

  test("a host with no address but loopback falls back to its hostname", () => {
    expect(advertisedAddress("0.0.0.0:7700", [], [])).toBe(`${hostname()}:7700`);
  });
});
