/**
 * This host's own addresses (shell: node:os), as its network namespace sees them: what an
 * agent advertises by default and what a control plane listening on a wildcard address puts
 * in its server certificate, so other hosts can verify it by the address they dial.
 */
import { networkInterfaces } from "node:os";

/** Every non-internal IPv4 address of the host, in interface order. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === "IPv4" && !a.internal).map((a) => a.address));
}

/** The host's primary address: its first non-internal IPv4 address, else loopback. */
export function primaryAddress(): string {
  return hostAddresses()[0] ?? "127.0.0.1";
}
