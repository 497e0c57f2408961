/**
 * Sealing secrets at rest (security/secret-seal.ts): AES-256-GCM under the cluster key, a
 * fresh nonce per seal, bound to the secret's name; a keyed digest; the data dir's key 0600.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLUSTER_KEY_FILE, caSecretClusterKey, dataDirClusterKey, openConfig, SecretSealer, SecretSealMismatch } from "../../src/control/security/secret-seal.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-seal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = { password: Buffer.from("hunter2-but-longer") };

describe("a secret's payload", () => {
  const sealer = new SecretSealer(Buffer.alloc(32, 7));

  test("opens to its values, never holds them in the clear, and has a fresh nonce each time", () => {
    const a = sealer.seal("secret", "db", data);
    const b = sealer.seal("secret", "db", data);
    expect(a.payload).not.toBe(b.payload);
    expect(a.digest).toBe(b.digest);
    expect(a.keys).toEqual([{ key: "password", size: 18 }]);
    for (const p of [a.payload, Buffer.from(a.payload, "base64url").toString("latin1")]) expect(p).not.toContain("hunter2");
    expect(sealer.open("db", a.payload)).toEqual(data);
  });

  test("another key, another secret's name, or a changed byte does not open it", () => {
    const { payload } = sealer.seal("secret", "db", data);
    expect(() => new SecretSealer(Buffer.alloc(32, 8)).open("db", payload)).toThrow(SecretSealMismatch);
    expect(() => sealer.open("api", payload)).toThrow(SecretSealMismatch);
    const flipped = payload.slice(0, -2) + (payload.endsWith("A") ? "B" : "A") + payload.slice(-1);
    expect(() => sealer.open("db", flipped)).toThrow(SecretSealMismatch);
  });

  test("the digest is keyed: another cluster key gives another digest of the same values", () => {
    expect(sealer.seal("secret", "db", data).digest).not.toBe(new SecretSealer(Buffer.alloc(32, 8)).seal("secret", "db", data).digest);
    expect(sealer.seal("secret", "db", data).digest).toStartWith("hmac-sha256:");
  });

  test("a config's payload is its contents, readable without the key", () => {
    const c = sealer.seal("config", "app", { "app.conf": Buffer.from("a=1") });
    expect(openConfig(c.payload)).toEqual({ "app.conf": Buffer.from("a=1") });
    expect(c.digest).toStartWith("sha256:");
  });
});

describe("the cluster key", () => {
  test("on SQLite: made once in the data dir, 0600, the same at the next start", () => {
    const key = dataDirClusterKey(dir);
    expect(key.length).toBe(32);
    expect(statSync(join(dir, CLUSTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(dataDirClusterKey(dir)).toEqual(key);
  });

  test("on PostgreSQL: the same CA secret and cluster give the same key; another cluster another", async () => {
    const a = await caSecretClusterKey("a-secret-of-sixteen+", "cluster-1");
    expect(await caSecretClusterKey("a-secret-of-sixteen+", "cluster-1")).toEqual(a);
    expect(await caSecretClusterKey("a-secret-of-sixteen+", "cluster-2")).not.toEqual(a);
  });
});
