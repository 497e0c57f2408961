/**
 * serverCertificateNames: what the control plane's server certificate names, so that a client
 * on another host can verify it by the address it dials (#29).
 */
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { serverCertificateNames } from "../../src/control/security/server-tls.js";

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
