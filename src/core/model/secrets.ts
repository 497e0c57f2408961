/**
 * Secrets and configs as records: named sets of files (keys) with versions. PURE.
 *
 * The core never holds a value. It sees each key's name and size, a digest of the whole set
 * (keyed for secrets: the shell's HMAC under the cluster key, so a guessable value cannot be
 * confirmed from the log), and an opaque `payload` the shell made: for a secret, its values
 * sealed under the cluster key; for a config, its contents. The payload is held in memory and in
 * the store's rows so the shell can deliver it, and is never logged (event-facts.ts).
 */
import { invalidArgument, type Rejection } from "./rejections.js";
import { validateName } from "./validate.js";

export type SecretKind = "secret" | "config";

/** One key of a set: its name and its value's size in bytes. */
export interface SecretKeyInfo {
  key: string;
  size: number;
}

/** One version of a secret or config. */
export interface SecretVersion {
  version: number;
  keys: SecretKeyInfo[];
  digest: string;
  by: string;
  at: number;
  /** The shell's sealed values (secret) or contents (config); absent in a state replayed from the log. */
  payload?: string;
}

/** One version of a secret sealed again (a rotation of the cluster key): its new digest and payload (absent in the log). */
export interface ResealedVersion {
  version: number;
  digest: string;
  payload?: string;
}

export interface SecretRecord {
  kind: SecretKind;
  name: string;
  createdAt: number;
  /** Oldest first; the last is current. At most SECRET_LIMITS.versionsKept. */
  versions: SecretVersion[];
}

/** The limits of one secret or config, stated in the README and the proto. */
export const SECRET_LIMITS = {
  keys: 32,
  valueBytes: 64 * 1024,
  totalBytes: 256 * 1024,
  /** Versions kept per secret (for `rollout undo`); older ones are dropped with their values. */
  versionsKept: 5,
} as const;

/** A key name: a file name of letters, digits, `.`, `_` and `-`, not `.` or `..`. */
const KEY_NAME = /^[A-Za-z0-9._-]{1,253}$/;

/** The state's map key of a secret or config. */
export function secretId(kind: SecretKind, name: string): string {
  return `${kind}/${name}`;
}

/** secretId's parts again. */
export function parseSecretId(id: string): { kind: SecretKind; name: string } {
  const slash = id.indexOf("/");
  return { kind: id.slice(0, slash) as SecretKind, name: id.slice(slash + 1) };
}

/** The current version of a record. */
export function currentVersion(r: Readonly<SecretRecord>): SecretVersion {
  return r.versions[r.versions.length - 1]!;
}

/** The first problem with a set's name and keys, naming the field; undefined when it is within the limits. */
export function validateSecretSet(kind: SecretKind, name: string, keys: readonly SecretKeyInfo[]): Rejection | undefined {
  const nameProblem = validateName(name, `${kind}.name`);
  if (nameProblem) return nameProblem;
  if (keys.length === 0) return invalidArgument(`${kind}.data`, "at least one key");
  if (keys.length > SECRET_LIMITS.keys) return invalidArgument(`${kind}.data`, `at most ${SECRET_LIMITS.keys} keys, got ${keys.length}`);
  let total = 0;
  for (const { key, size } of keys) {
    if (!KEY_NAME.test(key) || key === "." || key === "..") return invalidArgument(`${kind}.data["${key}"]`, "a key of letters, digits, '.', '_' and '-' (a file name), not '.' or '..'");
    if (size > SECRET_LIMITS.valueBytes) return invalidArgument(`${kind}.data["${key}"]`, `a value of at most ${SECRET_LIMITS.valueBytes} bytes (64 KiB), got ${size}`);
    total += size;
  }
  if (total > SECRET_LIMITS.totalBytes) return invalidArgument(`${kind}.data`, `at most ${SECRET_LIMITS.totalBytes} bytes (256 KiB) in all, got ${total}`);
  return undefined;
}
