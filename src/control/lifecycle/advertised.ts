/**
 * What a control plane tells others it is (shell: node:os): the names its server certificate
 * carries and the address other control planes, agents and `get control-planes` know it by.
 * Listening on a wildcard, both are the host's own addresses, since those are what other
 * hosts dial (a hostname may resolve nowhere, and is one name for every namespace of a host).
 */
import { hostname } from "node:os";
import { hostOf } from "../../core/ha/listen-address.js";

const isWildcard = (host: string) => host === "0.0.0.0" || host === "::" || host === "" || host === "[::]";

/**
 * What the server certificate names: the listen address, loopback, the hostname and every
 * `--advertise`; listening on a wildcard, the host's own addresses instead of the wildcard, so
 * that clients (curl on the web page, say) can check the address they dialled.
 */
export function serverCertificateNames(listen: string, advertise: string[], addresses: string[]): string[] {
  const host = hostOf(listen);
  return [...new Set([...(isWildcard(host) ? addresses : [host]), "127.0.0.1", "localhost", hostname(), ...advertise])];
}

/**
 * The address others know this control plane by (a standby names it to agents it refuses):
 * the bound one, or on a wildcard the first `--advertise` name, else the host's first address.
 */
export function advertisedAddress(bound: string, advertise: string[], addresses: string[]): string {
  if (!isWildcard(hostOf(bound))) return bound;
  return `${advertise[0] ?? addresses[0] ?? hostname()}:${bound.slice(bound.lastIndexOf(":") + 1)}`;
}
