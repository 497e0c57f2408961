/**
 * Sealing secrets at rest (security/secret-seal.ts): AES-256-GCM under the cluster key, a
 * fresh nonce per seal, bound to the secret's name; a keyed digest; the data dir's key 0600.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLUSTER_KEY_FILE, caSecretClusterKey, DataDirKeys } from "../../src/control/security/cluster-keys.js";
import { generationOf, openConfig, SecretSealer, SecretSealMismatch } from "../../src/control/security/secret-seal.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-seal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = { password: Buffer.from("hunter2-but-longer") };
/** A sealer holding only the first generation of the key. */
const sealerOf = (key: Buffer) => new SecretSealer(new Map([[0, key]]));

describe("a secret's payload", () => {
  const sealer = sealerOf(Buffer.alloc(32, 7));

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
    expect(() => sealerOf(Buffer.alloc(32, 8)).open("db", payload)).toThrow(SecretSealMismatch);
    expect(() => sealer.open("api", payload)).toThrow(SecretSealMismatch);
    // The second-to-last character (the last may carry only padding bits), made another one: the
    // character chosen was once the one already there, 1 run in 64 (the nonce is random).
    const flipped = payload.slice(0, -2) + (payload.at(-2) === "A" ? "B" : "A") + payload.slice(-1);
    expect(() => sealer.open("db", flipped)).toThrow(SecretSealMismatch);
  });

  test("the digest is keyed: another cluster key gives another digest of the same values", () => {
    expect(sealer.seal("secret", "db", data).digest).not.toBe(sealerOf(Buffer.alloc(32, 8)).seal("secret", "db", data).digest);
    expect(sealer.seal("secret", "db", data).digest).toStartWith("hmac-sha256:");
  });

  test("a config's payload is its contents, readable without the key", () => {
    const c = sealer.seal("config", "app", { "app.conf": Buffer.from("a=1") });
    expect(openConfig(c.payload)).toEqual({ "app.conf": Buffer.from("a=1") });
    expect(c.digest).toStartWith("sha256:");
  });
});

describe("the cluster key", () => {
  test("on SQLite: made once in the data dir, 0600, the same at the next start", async () => {
    const [generation, key] = [...(await new DataDirKeys(dir).load())][0]!;
    expect(generation).toBe(0);
    expect(key!.length).toBe(32);
    expect(statSync(join(dir, CLUSTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(await new DataDirKeys(dir).load()).toEqual(new Map([[0, key!]]));
  });

  test("on SQLite: a new generation is written beside those kept, and the older dropped when told; a bad line is refused naming the file", async () => {
    const own = mkdtempSync(join(dir, "gen-"));
    const keys = new DataDirKeys(own);
    const first = await keys.load();
    const second = await keys.add(1, first);
    expect(await keys.load()).toEqual(new Map([...first, [1, second]]));
    expect(readFileSync(join(own, CLUSTER_KEY_FILE), "utf8")).toBe(`${first.get(0)!.toString("base64")}\n1:${second.toString("base64")}\n`);
    keys.keepOnly(new Map([[1, second]]));
    expect(await keys.load()).toEqual(new Map([[1, second]]));
    expect(statSync(join(own, CLUSTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    writeFileSync(join(own, CLUSTER_KEY_FILE), "1:short\n");
    await expect(keys.load()).rejects.toThrow(`${join(own, CLUSTER_KEY_FILE)} line 1: expected a 32-byte key in base64, or GENERATION:key`);
  });

  test("on PostgreSQL: the same CA secret, cluster and generation give the same key; another cluster or generation another", async () => {
    const a = await caSecretClusterKey("a-secret-of-sixteen+", "cluster-1");
    expect(await caSecretClusterKey("a-secret-of-sixteen+", "cluster-1", 0)).toEqual(a);
    expect(await caSecretClusterKey("a-secret-of-sixteen+", "cluster-2")).not.toEqual(a);
    expect(await caSecretClusterKey("a-secret-of-sixteen+", "cluster-1", 1)).not.toEqual(a);
  });
});

describe("generations", () => {
  test("a payload names its generation; each opens with its own key, and not once that is forgotten", () => {
    const sealer = sealerOf(Buffer.alloc(32, 7));
    const old = sealer.seal("secret", "db", data);
    expect(generationOf(old.payload)).toBe(0);
    expect(old.payload).toStartWith("v1.");
    sealer.use(3, Buffer.alloc(32, 9));
    const next = sealer.seal("secret", "db", data);
    expect(generationOf(next.payload)).toBe(3);
    expect(next.payload).toStartWith("v2.3.");
    expect(next.digest).not.toBe(old.digest);
    expect(sealer.open("db", old.payload)).toEqual(data);
    expect(sealer.open("db", next.payload)).toEqual(data);
    sealer.forgetOlder();
    expect(() => sealer.open("db", old.payload)).toThrow("sealed under generation 0 of the cluster key, which this control plane does not hold");
    expect(sealer.open("db", next.payload)).toEqual(data);
    for (const bad of ["v2.0.a.b", "v2.x.a.b", "v3.a.b", "v1.a"]) expect(generationOf(bad)).toBeUndefined();
  });
});
