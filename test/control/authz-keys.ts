/** A node key pair for tests that forge certificates (the agent makes its own in src/agent/credentials.ts). */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export async function generateKeyPair(): Promise<{ keyPem: string; publicKeyPem: string }> {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return {
    keyPem: x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
    publicKeyPem: x509.PemConverter.encode(await crypto.subtle.exportKey("spki", keys.publicKey), "PUBLIC KEY"),
  };
}
