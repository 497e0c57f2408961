/**
 * Where the cluster key's generations come from (shell: files, node:crypto). Generation 0 is
 * the key a cluster starts with; a rotation (key-rotation.ts) adds the next.
 *
 * SQLite: random 32-byte keys in the data dir's `secrets.key` (0600), one a line: the first
 * key alone as base64 (the file a cluster starts with), later ones as `GENERATION:base64`. A
 * new generation is written (whole, synced, renamed) beside the ones in use before anything is
 * sealed under it, and the older ones are dropped only once nothing stored needs them.
 *
 * PostgreSQL: each generation derived with scrypt from the CA secret every control plane is
 * given (`--ca-secret-file`), the cluster's id and the generation, so all of them hold the same
 * keys and the database alone opens nothing, as the cluster CA's key (ca-seal.ts). Nothing is
 * stored: the generation each value is sealed under is in its payload, written in the same
 * transaction as the value.
 */
import { randomBytes, scrypt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeSecret } from "../../shell/write-secret.js";
import { SecretSealer } from "./secret-seal.js";

/** The file of the cluster key in a SQLite control plane's data dir. */
export const CLUSTER_KEY_FILE = "secrets.key";

export interface ClusterKeys {
  /** The keys this control plane holds now: at least those of `inUse` (the generations stored values are sealed under) and the newest. */
  load(inUse: ReadonlySet<number>): Promise<Map<number, Buffer>>;
  /** A new generation's key, kept with `keep`'s (stored first, where keys are stored) before it is returned. */
  add(generation: number, keep: ReadonlyMap<number, Buffer>): Promise<Buffer>;
  /** Only these generations are kept from now on (nothing stored needs the others). */
  keepOnly(keep: ReadonlyMap<number, Buffer>): void;
}

/** The lines of a key file: generation 0 as the bare key, the rest `GENERATION:key`. */
function keyFileText(keys: ReadonlyMap<number, Buffer>): string {
  return `${[...keys].sort(([a], [b]) => a - b).map(([g, k]) => (g === 0 ? k.toString("base64") : `${g}:${k.toString("base64")}`)).join("\n")}\n`;
}

export class DataDirKeys implements ClusterKeys {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, CLUSTER_KEY_FILE);
  }

  async load(): Promise<Map<number, Buffer>> {
    if (!existsSync(this.path)) writeSecret(this.path, randomBytes(32).toString("base64"));
    const keys = new Map<number, Buffer>();
    readFileSync(this.path, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "").forEach((line, i) => {
      const colon = line.indexOf(":");
      const generation = colon < 0 ? 0 : Number(line.slice(0, colon));
      const key = Buffer.from(line.slice(colon + 1), "base64");
      if (!Number.isSafeInteger(generation) || generation < 0 || key.length !== 32) throw new Error(`${this.path} line ${i + 1}: expected a 32-byte key in base64, or GENERATION:key`);
      keys.set(generation, key);
    });
    return keys;
  }

  async add(generation: number, keep: ReadonlyMap<number, Buffer>): Promise<Buffer> {
    const key = randomBytes(32);
    writeSecret(this.path, keyFileText(new Map([...keep, [generation, key]])));
    return key;
  }

  keepOnly(keep: ReadonlyMap<number, Buffer>): void {
    writeSecret(this.path, keyFileText(keep));
  }
}

/** A generation of the cluster key on PostgreSQL: the CA secret stretched with scrypt, salted with the cluster's id (and the generation, after the first). */
export function caSecretClusterKey(caSecret: string, clusterId: string, generation = 0): Promise<Buffer> {
  const salt = generation === 0 ? `tessera secrets ${clusterId}` : `tessera secrets ${clusterId} generation ${generation}`;
  return new Promise((resolve, reject) => scrypt(caSecret, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

export class CaSecretKeys implements ClusterKeys {
  constructor(
    private readonly caSecret: string,
    private readonly clusterId: string,
  ) {}

  async load(inUse: ReadonlySet<number>): Promise<Map<number, Buffer>> {
    const generations = inUse.size === 0 ? [0] : [...inUse];
    return new Map(await Promise.all(generations.map(async (g) => [g, await caSecretClusterKey(this.caSecret, this.clusterId, g)] as const)));
  }

  add(generation: number): Promise<Buffer> {
    return caSecretClusterKey(this.caSecret, this.clusterId, generation);
  }

  keepOnly(): void {
    // Derived, never stored: nothing to drop.
  }
}

/** What seals a control plane's secrets, and where the cluster key's generations are kept. */
export interface ClusterSealing {
  sealer: SecretSealer;
  keys: ClusterKeys;
}

/** This control plane's sealing, holding the generations `inUse` (those the stored values are sealed under); none on PostgreSQL without a CA secret (--insecure). */
export async function clusterSealer(opts: { dataDir: string; store?: string; caSecret?: string }, clusterId: () => Promise<string | undefined>, inUse: ReadonlySet<number>): Promise<ClusterSealing | undefined> {
  if (opts.store !== undefined && opts.caSecret === undefined) return undefined;
  const keys = opts.store === undefined ? new DataDirKeys(opts.dataDir) : new CaSecretKeys(opts.caSecret!, (await clusterId()) ?? "");
  return { sealer: new SecretSealer(await keys.load(inUse)), keys };
}
