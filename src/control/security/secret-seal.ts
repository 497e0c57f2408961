/**
 * Sealing secrets at rest (shell: node:crypto): each version's values are encrypted with
 * AES-256-GCM under the cluster key, with a fresh random nonce, bound to the secret's name
 * (AAD), so a row copied onto another secret does not open. The digest the log records is an
 * HMAC under the same key: a guessable value cannot be confirmed from the log. Configs are not
 * secret: their payload is their contents, their digest a SHA-256.
 *
 * The cluster key has generations (cluster-keys.ts: where each is kept; key-rotation.ts: how a
 * new one replaces the last): a payload names the generation it is sealed under, so each
 * value opens with its own key while a rotation moves them all to the next.
 *
 * Sealed form: `v1.NONCE.CIPHERTEXT+TAG` (generation 0, the first key) or
 * `v2.GENERATION.NONCE.CIPHERTEXT+TAG`, base64url; the plaintext is the values as JSON.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import type { SecretKeyInfo, SecretKind, SecretRecord } from "../../core/model/secrets.js";
import { type SecretNeeds, versionUsed } from "../../core/model/secret-use.js";

/** The form of a payload of generation 0, and of any later one. */
const FIRST = "v1";
const LATER = "v2";
const TAG_BYTES = 16;

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

/** The generation of the cluster key a secret's payload is sealed under; undefined when it is in no form this version reads. */
export function generationOf(payload: string): number | undefined {
  const parts = payload.split(".");
  if (parts[0] === FIRST && parts.length === 3) return 0;
  const generation = Number(parts[1]);
  return parts[0] === LATER && parts.length === 4 && Number.isSafeInteger(generation) && generation > 0 ? generation : undefined;
}

/** The generations the secrets' kept versions are sealed under (what must stay kept). */
export function generationsInUse(secrets: ReadonlyMap<string, Readonly<SecretRecord>>): Set<number> {
  const used = new Set<number>();
  for (const r of secrets.values()) {
    if (r.kind !== "secret") continue;
    for (const v of r.versions) {
      const g = v.payload === undefined ? undefined : generationOf(v.payload);
      if (g !== undefined) used.add(g);
    }
  }
  return used;
}

/**
 * Seals with the newest generation of the cluster key it holds, opens with the generation a
 * payload names. A rotation gives it the next generation (use) and, once every value is sealed
 * under that, lets it forget the older ones (forgetOlder).
 */
export class SecretSealer {
  private readonly keys: Map<number, Buffer>;
  private current: number;
  /** Puts and rotations one at a time (exclusive): a value is never sealed under a key a rotation is retiring. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(keys: ReadonlyMap<number, Buffer>) {
    if (keys.size === 0) throw new Error("a sealer needs a cluster key");
    this.keys = new Map(keys);
    this.current = Math.max(...keys.keys());
  }

  /** The generation new values are sealed under. */
  get generation(): number {
    return this.current;
  }

  /** Runs `fn` after every earlier one has ended: sealing and submitting, or a rotation, whole. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => {});
    return run;
  }

  /** Seals from now on under a new generation's key (a rotation); the older ones still open what they sealed. */
  use(generation: number, key: Buffer): void {
    this.keys.set(generation, key);
    this.current = generation;
  }

  /** Forgets every generation but the current one (a rotation's values all sealed under it). */
  forgetOlder(): void {
    for (const g of this.keys.keys()) if (g !== this.current) this.keys.delete(g);
  }

  /** A secret's or config's record of `data`; a secret's payload sealed, a fresh nonce each time. */
  seal(kind: SecretKind, name: string, data: SecretData): SealedSet {
    const keys = Object.keys(data).map((key) => ({ key, size: data[key]!.byteLength }));
    const plain = canonical(data);
    if (kind === "config") return { keys, digest: `sha256:${createHash("sha256").update(plain).digest("hex")}`, payload: Buffer.from(plain).toString("base64url") };
    const key = this.keys.get(this.current)!;
    const digest = `hmac-sha256:${createHmac("sha256", key).update(plain).digest("hex")}`;
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.setAAD(Buffer.from(`tessera secret ${name}`));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]).toString("base64url");
    const form = this.current === 0 ? [FIRST] : [LATER, String(this.current)];
    return { keys, digest, payload: [...form, nonce.toString("base64url"), body].join(".") };
  }

  /** The values of a secret's payload `seal` made; throws SecretSealMismatch when it does not open. */
  open(name: string, payload: string): Record<string, Buffer> {
    const generation = generationOf(payload);
    if (generation === undefined) throw new SecretSealMismatch(`secret ${name}: its sealed values are not in a form this version reads`);
    const key = this.keys.get(generation);
    if (key === undefined) throw new SecretSealMismatch(`secret ${name}: sealed under generation ${generation} of the cluster key, which this control plane does not hold`);
    const [nonce, body] = payload.split(".").slice(-2) as [string, string];
    const bytes = Buffer.from(body, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64url"));
    decipher.setAAD(Buffer.from(`tessera secret ${name}`));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return fromCanonical(Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8"));
    } catch {
      throw new SecretSealMismatch(`secret ${name}: the cluster key does not open its sealed values`);
    }
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
