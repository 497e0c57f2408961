/**
 * The fingerprint that lets a node trust a control plane it has never met (shell: crypto):
 * `tessera control` prints it, an agent given `--ca-hash` checks the CA it fetches against it.
 */
import { createHash, X509Certificate } from "node:crypto";

/** `sha256:<hex>` of the CA certificate's DER bytes. */
export function caHashOf(caPem: string): string {
  return `sha256:${createHash("sha256").update(new X509Certificate(caPem).raw).digest("hex")}`;
}
