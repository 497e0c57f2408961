/** The CA key sealed for the database (security/ca-seal.ts): it opens with its secret only. */
import { expect, test } from "bun:test";
import { CaSecretMismatch, checkCaSecret, openCaKey, sealCaKey } from "../../src/control/security/ca-seal.js";
import { createCa } from "../../src/control/security/pki.js";

const SECRET = "a secret of at least sixteen";

test("a sealed key opens with its secret, never shows in the clear, and refuses another secret or a tampered row", async () => {
  const { keyPem } = await createCa();
  const sealed = await sealCaKey(keyPem, SECRET);
  expect(sealed).toStartWith("v1.");
  expect(sealed).not.toContain("PRIVATE KEY");
  expect(await openCaKey(sealed, SECRET)).toBe(keyPem);
  // A fresh salt and IV each time.
  expect(await sealCaKey(keyPem, SECRET)).not.toBe(sealed);
  await expect(openCaKey(sealed, `${SECRET}!`)).rejects.toBeInstanceOf(CaSecretMismatch);
  const parts = sealed.split(".");
  const body = Buffer.from(parts[3]!, "base64url");
  body[0]! ^= 1;
  await expect(openCaKey([...parts.slice(0, 3), body.toString("base64url")].join("."), SECRET)).rejects.toBeInstanceOf(CaSecretMismatch);
  await expect(openCaKey("v2.x.y.z", SECRET)).rejects.toBeInstanceOf(CaSecretMismatch);
});

test.each([
  ["", "empty"],
  ["short", "too short"],
])("a secret %p is refused (%s)", (secret, why) => {
  expect(checkCaSecret(secret)).toContain(why);
});

test("a secret of 16 characters or more is accepted", () => {
  expect(checkCaSecret("x".repeat(16))).toBeUndefined();
});
