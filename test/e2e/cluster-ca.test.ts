/**
 * The cluster CA in PostgreSQL (issue 20), through dist/tessera: two control planes started at
 * the same moment on a fresh database, each with an empty data dir and the same CA secret, end
 * up with one CA (one row; the same ca.pem), each with its own server certificate signed by
 * it. A control plane given another secret, or none, is refused naming --ca-secret-file. A
 * cluster that kept its CA in the first control plane's data dir keeps it: that CA goes in.
 * (leader-lease.test.ts shows an agent enrolled with one control plane trusting the other.)
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createCa, pkiFiles } from "../../src/control/security/pki.js";
import { writeSecret } from "../../src/shell/write-secret.js";
import { BINARY, Harness, requireBinary } from "./harness.js";
import { type PostgresServer, postgresSuite } from "./postgres-server.js";

setDefaultTimeout(60_000);

const SECRET = "cluster-ca test secret, the right one";
const pg = postgresSuite("the cluster CA in PostgreSQL, end to end");
const h = new Harness();
let server: PostgresServer | undefined;
let url = "";

const dir = (name: string) => join(h.dir, name);
const controlArgs = (name: string) => ["control", "--listen", "127.0.0.1:0", "--data-dir", dir(name), "--metrics-listen", ""];

/** Runs a start that must be refused; one that is not would serve forever, so it is killed at a deadline. */
async function runRefused(name: string, env: Record<string, string | undefined>): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([BINARY, ...controlArgs(name)], { cwd: h.dir, env: { ...process.env, TESSERA_STORE: url, ...env }, stdout: "ignore", stderr: "pipe", timeout: 20_000, killSignal: "SIGKILL" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { code, stderr };
}

beforeAll(() =>
  h.explaining(async () => {
    if (pg.skip) return;
    requireBinary();
    server = await pg.start();
    url = server.url;
  }),
);
afterAll(async () => {
  await h.stop();
  server?.remove();
});

test.skipIf(pg.skip)("a concurrent first start on one database yields one CA; each control plane has its own server certificate from it", async () => {
  const env = { TESSERA_STORE: url, TESSERA_CA_SECRET: SECRET };
  const started = ["one", "two"].map((name) => h.start(controlArgs(name), env));
  await Promise.all(started.map((s) => s.waitForLog((l) => l.msg === "control plane listening", 30_000)));
  // One cluster: the second to record its id took the first's.
  expect(readFileSync(join(dir("two"), "cluster-id"), "utf8")).toBe(readFileSync(join(dir("one"), "cluster-id"), "utf8"));

  const sql = new SQL(url);
  try {
    const rows: Array<{ cert: string; sealed_key: string }> = await sql`SELECT cert, sealed_key FROM cluster_ca`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.sealed_key).not.toContain("PRIVATE KEY");
    const caPem = rows[0]!.cert;
    const ca = new X509Certificate(caPem);
    const servers = ["one", "two"].map((name) => {
      expect(readFileSync(join(dir(name), "pki", "ca.pem"), "utf8")).toBe(caPem);
      // The key stays in the database, sealed; never in a data dir.
      expect(existsSync(join(dir(name), "pki", "ca.key"))).toBe(false);
      const cert = new X509Certificate(readFileSync(join(dir(name), "pki", "server.pem")));
      expect(cert.verify(ca.publicKey)).toBe(true);
      return cert.fingerprint256;
    });
    expect(servers[0]).not.toBe(servers[1]);
  } finally {
    await sql.close();
  }
});

test.skipIf(pg.skip)("another secret is refused: it cannot decrypt the stored CA; none is refused naming the flag", async () => {
  const wrong = await runRefused("wrong", { TESSERA_CA_SECRET: "not the cluster's secret at all" });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr.trimEnd().split("\n").at(-1)).toBe("error: --ca-secret-file: cannot decrypt the cluster CA stored in the database (wrong secret?)");
  // Refused before a server certificate was issued from a CA it could not open.
  expect(existsSync(join(dir("wrong"), "pki", "server.pem"))).toBe(false);

  const none = await runRefused("none", { TESSERA_CA_SECRET: undefined });
  expect(none.code).toBe(1);
  expect(none.stderr).toStartWith("error: --ca-secret-file: required with --store postgres://");
  expect(none.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(existsSync(join(dir("none"), "cluster-id"))).toBe(false);
});

test.skipIf(pg.skip)("a data dir that holds a CA (a cluster from before the CA was in the database) puts that CA in the database", async () => {
  const fresh = await server!.createDatabase("upgraded");
  const env = { TESSERA_STORE: fresh, TESSERA_CA_SECRET: SECRET };
  const first = h.start(controlArgs("upgraded"), env);
  await first.waitForLog((l) => l.msg === "control plane listening", 30_000);
  first.proc.kill("SIGTERM");
  await first.proc.exited;
  // As before the upgrade: the database without a CA, the data dir with one (its key too).
  const sql = new SQL(fresh);
  try {
    await sql`DELETE FROM cluster_ca`;
    const own = await createCa();
    const files = pkiFiles(dir("upgraded"));
    writeSecret(files.caKey, own.keyPem);
    writeSecret(files.caCert, own.certPem);
    const again = h.start(controlArgs("upgraded"), env);
    await again.waitForLog((l) => l.msg === "cluster CA stored in the database, its key sealed with the CA secret" && l.ca === files.caCert, 30_000);
    await again.waitForLog((l) => l.msg === "control plane listening", 30_000);
    const rows: Array<{ cert: string }> = await sql`SELECT cert FROM cluster_ca`;
    expect(rows.map((r) => r.cert)).toEqual([own.certPem]);
    // The server certificate the first start issued was another CA's: a new one, from this one.
    expect(new X509Certificate(readFileSync(files.serverCert)).verify(new X509Certificate(own.certPem).publicKey)).toBe(true);
  } finally {
    await sql.close();
  }
});
