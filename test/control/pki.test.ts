/**
 * Pki.verifyClient: which client certificates name a node, and why the others are refused;
 * renewServerCertificate: when the server certificate is reissued.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { credentials, Metadata } from "@grpc/grpc-js";
import { generateNodeKey } from "../../src/agent/credentials.js";
import { Pki, pkiFiles } from "../../src/control/security/pki.js";
import { CHANNEL_OPTIONS, CONTROL_SERVER_NAME } from "../../src/shell/control-channel.js";
import { startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { eventually } from "../e2e/harness.js";

const dirs: string[] = [];
const freshPki = () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-pki-"));
  dirs.push(dir);
  return Pki.open(dir, []);
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const DAY = 86_400_000;
const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

describe("verifyClient", async () => {
  const pki = await freshPki();
  const { publicKeyPem } = await generateNodeKey();
  const now = Date.now();

  test("a certificate this CA issued names its node", async () => {
    const { certPem } = await pki.issue("CN=node-a", ["node-a"], DAY, "client", publicKeyPem);
    expect(await pki.verifyClient(der(certPem), now)).toEqual({ node: "node-a", serial: expect.stringMatching(/^[0-9a-f]+$/), notAfter: expect.any(Number) });
  });

  test("one issued by another control plane's CA is refused", async () => {
    const other = await freshPki();
    const { certPem } = await other.issue("CN=node-a", ["node-a"], DAY, "client", publicKeyPem);
    expect(await pki.verifyClient(der(certPem), now)).toEqual({ refusal: "the client certificate is not signed by this control plane's CA" });
  });

  test("one outside its validity is refused, saying when it expired", async () => {
    const { certPem } = await pki.issue("CN=node-a", ["node-a"], DAY, "client", publicKeyPem, now - 3 * DAY);
    const expiry = Date.parse(new X509Certificate(certPem).validTo);
    expect(await pki.verifyClient(der(certPem), now)).toEqual({ refusal: `the client certificate expired at ${new Date(expiry).toISOString()}` });
    const { certPem: future } = await pki.issue("CN=node-a", ["node-a"], DAY, "client", publicKeyPem, now + DAY);
    expect(await pki.verifyClient(der(future), now)).toEqual({ refusal: "the client certificate is not valid yet" });
  });

  test("a certificate this CA signed for a server, not for client authentication, names no node (#27)", async () => {
    const { certPem } = await pki.issue("CN=node-a", ["node-a"], DAY, "server");
    expect(await pki.verifyClient(der(certPem), now)).toEqual({ refusal: "the client certificate is not for client authentication (extended key usage clientAuth)" });
  });

  test("bytes that are not a certificate are refused", async () => {
    expect(await pki.verifyClient(new Uint8Array([0x30, 0x03, 0x01, 0x02]), now)).toEqual({ refusal: "the client certificate cannot be parsed" });
  });
});

describe("renewServerCertificate", () => {
  const serial = (dir: string) => new X509Certificate(readFileSync(pkiFiles(dir).serverCert)).serialNumber;
  const open = async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-pki-"));
    dirs.push(dir);
    return { dir, pki: await Pki.open(dir, ["10.0.0.1"]) };
  };

  test("keeps a certificate with most of its life left that names every address", async () => {
    const { dir, pki } = await open();
    const before = serial(dir);
    expect(await pki.renewServerCertificate(dir, ["10.0.0.1"])).toBe(false);
    expect(serial(dir)).toBe(before);
  });

  test("renews one within the last third of its lifetime, one missing an address, and one whose key does not match", async () => {
    const { dir, pki } = await open();
    // Issued for 365 days: less than a third of a 1,200-day lifetime is left.
    expect(await pki.renewServerCertificate(dir, ["10.0.0.1"], 1_200 * DAY)).toBe(true);
    const renewed = serial(dir);
    expect(await pki.renewServerCertificate(dir, ["10.0.0.1", "10.0.0.2"])).toBe(true);
    expect(serial(dir)).not.toBe(renewed);
    const names = new X509Certificate(readFileSync(pkiFiles(dir).serverCert)).subjectAltName;
    expect(names).toContain("IP Address:10.0.0.2");
    // A renewal cut short after the key was written: the old certificate beside a new key.
    const { keyPem } = await pki.issue("CN=x", [], DAY, "server");
    writeFileSync(pkiFiles(dir).serverKey, keyPem);
    expect(await pki.renewServerCertificate(dir, ["10.0.0.1", "10.0.0.2"])).toBe(true);
    expect(await pki.renewServerCertificate(dir, ["10.0.0.1", "10.0.0.2"])).toBe(false);
  });
});

describe("a running control plane renews its server certificate in place", () => {
  test("new connections get the renewed one, verified by the same CA; an open connection carries on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-pki-"));
    dirs.push(dir);
    const logged: string[] = [];
    const log: Logger = { error() {}, warn() {}, info: (msg) => void logged.push(msg), debug() {}, with: () => log };
    // Issued backdated by a minute, a 90-second certificate is always due: every check renews.
    const cp = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log, serverCertLifetimeMs: 90_000, certCheckMs: 100 });
    const ca = readFileSync(join(dir, "pki", "ca.pem"));
    const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
    const perCall = credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new Metadata();
      md.set("authorization", `Bearer ${token}`);
      cb(null, md);
    });
    const listNodes = (c: ControlPlaneClient) => new Promise<number>((resolve, reject) => c.listNodes({ pageSize: 0, pageToken: "" }, (err, res) => (err ? reject(err) : resolve(res.nodes.length))));
    const presented = () =>
      new Promise<string>((resolve, reject) => {
        const port = Number(cp.address.slice(cp.address.lastIndexOf(":") + 1));
        const s = tlsConnect({ host: "127.0.0.1", port, ca, servername: CONTROL_SERVER_NAME, ALPNProtocols: ["h2"] }, () => {
          resolve(s.getPeerCertificate().serialNumber);
          s.destroy();
        });
        s.on("error", reject);
      });
    const open = new ControlPlaneClient(cp.address, credentials.combineChannelCredentials(credentials.createSsl(ca), perCall), CHANNEL_OPTIONS);
    try {
      const first = await presented();
      expect(await listNodes(open)).toBe(0);
      await eventually("a renewal", async () => (logged.includes("server certificate renewed") ? true : undefined), 5_000, 20);
      await eventually("a new certificate on new connections", async () => ((await presented()) !== first ? true : undefined), 5_000, 50);
      expect(await listNodes(open)).toBe(0);
      const fresh = new ControlPlaneClient(cp.address, credentials.combineChannelCredentials(credentials.createSsl(ca), perCall), CHANNEL_OPTIONS);
      expect(await listNodes(fresh)).toBe(0);
      fresh.close();
    } finally {
      open.close();
      await cp.stop();
    }
  });
});
