/**
 * Sealing secrets at rest (shell: node:crypto): each version's values are encrypted with
 * AES-256-GCM under the cluster key, with a fresh random nonce, bound to the secret's name
 * (AAD), so a row copied onto another secret does not open. The digest the log records is an
 * HMAC under the same key: a guessable value cannot be confirmed from the log. Configs are not
 * secret: their payload is their contents, their digest a SHA-256.
 *
 * The cluster key: on SQLite 32 random bytes in the data dir (secrets.key, 0600), made at the
 * first start; on PostgreSQL derived with scrypt from the CA secret every control plane is
 * given (`--ca-secret-file`) and the cluster's id, so all of them hold the same key and the
 * database alone opens nothing, as the cluster CA's key (ca-seal.ts).
 *
 * Sealed form: `v1.NONCE.CIPHERTEXT+TAG`, base64url; the plaintext is the values as JSON.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SecretKeyInfo, SecretKind, SecretRecord } from "../../core/model/secrets.js";
import { type SecretNeeds, versionUsed } from "../../core/model/secret-use.js";
import { writeSecret } from "../../shell/write-secret.js";

const VERSION = "v1";
const TAG_BYTES = 16;
/** The file of the cluster key in a SQLite control plane's data dir. */
export const CLUSTER_KEY_FILE = "secrets.key";

/** A payload that does not open: another cluster key, or a row not written by Tessera. */
export class SecretSealMismatch extends Error {}

/** A set's values by key. */
export type SecretData = Record<string, Uint8Array>;

/** What the control plane records of a set: its keys and sizes, its digest, its payload. */
export interface SealedSet {
  keys: SecretKeyInfo[];
  digest: string;
  payload: string;
}

/** Canonical bytes of a set: keys in order, so equal sets have equal digests. */
function canonical(data: SecretData): string {
  return JSON.stringify(Object.keys(data).sort().map((k) => [k, Buffer.from(data[k]!).toString("base64")]));
}

export class SecretSealer {
  constructor(private readonly key: Buffer) {}

  /** A secret's or config's record of `data`; a secret's payload sealed, a fresh nonce each time. */
  seal(kind: SecretKind, name: string, data: SecretData): SealedSet {
    const keys = Object.keys(data).map((key) => ({ key, size: data[key]!.byteLength }));
    const plain = canonical(data);
    if (kind === "config") return { keys, digest: `sha256:${createHash("sha256").update(plain).digest("hex")}`, payload: Buffer.from(plain).toString("base64url") };
    const digest = `hmac-sha256:${createHmac("sha256", this.key).update(plain).digest("hex")}`;
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    cipher.setAAD(Buffer.from(`tessera secret ${name}`));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return { keys, digest, payload: [VERSION, nonce.toString("base64url"), body.toString("base64url")].join(".") };
  }

  /** The values of a secret's payload `seal` made; throws SecretSealMismatch when it does not open. */
  open(name: string, payload: string): Record<string, Buffer> {
    let plain: string;
    {
      const [version, nonce, body] = payload.split(".");
      if (version !== VERSION || !nonce || !body) throw new SecretSealMismatch(`secret ${name}: its sealed values are not in a form this version reads`);
      const bytes = Buffer.from(body, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(nonce, "base64url"));
      decipher.setAAD(Buffer.from(`tessera secret ${name}`));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      try {
        plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch {
        throw new SecretSealMismatch(`secret ${name}: the cluster key does not open its sealed values`);
      }
    }
    return fromCanonical(plain);
  }
}

function fromCanonical(plain: string): Record<string, Buffer> {
  const pairs = JSON.parse(plain) as [string, string][];
  return Object.fromEntries(pairs.map(([k, v]) => [k, Buffer.from(v, "base64")]));
}

/** A config's contents from its payload: not sealed, so a standby without the key reads them too. */
export function openConfig(payload: string): Record<string, Buffer> {
  return fromCanonical(Buffer.from(payload, "base64url").toString("utf8"));
}

/** The data dir's cluster key, made (32 random bytes, 0600) at the first start. */
export function dataDirClusterKey(dataDir: string): Buffer {
  const path = join(dataDir, CLUSTER_KEY_FILE);
  if (!existsSync(path)) writeSecret(path, randomBytes(32).toString("base64"));
  const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`${path}: expected a 32-byte key in base64, got ${key.length} bytes`);
  return key;
}

/** The cluster key on PostgreSQL: the CA secret stretched with scrypt, salted with the cluster's id. */
export function caSecretClusterKey(caSecret: string, clusterId: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(caSecret, `tessera secrets ${clusterId}`, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The sealer of this control plane: the data dir's key on SQLite, the CA secret's on PostgreSQL; none on PostgreSQL without a CA secret (--insecure). */
export async function clusterSealer(opts: { dataDir: string; store?: string; caSecret?: string }, clusterId: () => Promise<string | undefined>): Promise<SecretSealer | undefined> {
  if (opts.store === undefined) return new SecretSealer(dataDirClusterKey(opts.dataDir));
  if (opts.caSecret === undefined) return undefined;
  return new SecretSealer(await caSecretClusterKey(opts.caSecret, (await clusterId()) ?? ""));
}

/**
 * The current values of what a spec uses, for the agent of a copy placed now (agent-gateway.ts):
 * secrets opened with `sealer`, configs as they are. A set that does not exist, or whose
 * payload this state does not hold, is left out: placement does not place such a copy.
 */
export function deliveredSets(
  secrets: ReadonlyMap<string, Readonly<SecretRecord>>,
  needs: SecretNeeds,
  sealer: SecretSealer | undefined,
): Array<{ kind: SecretKind; name: string; version: number; data: Record<string, Buffer> }> {
  return needs.sets.flatMap((need) => {
    const { kind, name } = need;
    // The version the copy's spec runs with (a rollout, an undo), not always the newest.
    const v = versionUsed(secrets, need);
    if (v?.payload === undefined || (kind === "secret" && !sealer)) return [];
    return [{ kind, name, version: v.version, data: kind === "config" ? openConfig(v.payload) : sealer!.open(name, v.payload) }];
  });
}
