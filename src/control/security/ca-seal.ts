/**
 * Sealing the cluster CA's private key for the database (`--store postgres://…`): AES-256-GCM
 * under a key derived with scrypt from the secret every control plane is given
 * (`--ca-secret-file` or `$TESSERA_CA_SECRET`) and a random salt kept beside the ciphertext.
 * GCM's tag makes a wrong secret (or a tampered row) fail to open rather than yield garbage.
 *
 * Sealed form: `v1.SALT.IV.CIPHERTEXT+TAG`, each part base64url.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";

const VERSION = "v1";
/** Binds the ciphertext to its use: a value sealed for something else does not open here. */
const AAD = Buffer.from("tessera cluster CA private key");
const TAG_BYTES = 16;
/** A secret shorter than this is refused: it is the one thing between the database and the CA key. */
export const MIN_SECRET_LENGTH = 16;

/** The secret does not open the sealed key: a wrong secret, or a row not written by Tessera. */
export class CaSecretMismatch extends Error {}

function deriveKey(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Why a secret cannot be used, or undefined. */
export function checkCaSecret(secret: string): string | undefined {
  if (secret.length < MIN_SECRET_LENGTH) return `the secret is ${secret.length === 0 ? "empty" : "too short"}: give at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)`;
  return undefined;
}

export async function sealCaKey(keyPem: string, secret: string): Promise<string> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", await deriveKey(secret, salt), iv);
  cipher.setAAD(AAD);
  const sealed = Buffer.concat([cipher.update(keyPem, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return [VERSION, salt, iv, sealed].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
}

/** The key's PEM; throws CaSecretMismatch when `secret` does not open it. */
export async function openCaKey(sealed: string, secret: string): Promise<string> {
  const [version, salt, iv, body] = sealed.split(".");
  if (version !== VERSION || !salt || !iv || !body) throw new CaSecretMismatch(`the sealed CA key is not in a form this version reads (${version ?? "empty"})`);
  const bytes = Buffer.from(body, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", await deriveKey(secret, Buffer.from(salt, "base64url")), Buffer.from(iv, "base64url"));
  decipher.setAAD(AAD);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new CaSecretMismatch("the secret does not open the sealed CA key");
  }
}
