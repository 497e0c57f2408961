/** Pki.verifyClient: which client certificates name a node, and why the others are refused. */
import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateNodeKey } from "../../src/agent/credentials.js";
import { Pki } from "../../src/control/security/pki.js";

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
    expect(await pki.verifyClient(der(certPem), now)).toEqual({ node: "node-a" });
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

  test("bytes that are not a certificate are refused", async () => {
    expect(await pki.verifyClient(new Uint8Array([0x30, 0x03, 0x01, 0x02]), now)).toEqual({ refusal: "the client certificate cannot be parsed" });
  });
});
