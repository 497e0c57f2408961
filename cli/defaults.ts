/** Where things are when no flag says otherwise. */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_LISTEN = "127.0.0.1:7700";
export const DEFAULT_METRICS_LISTEN = "127.0.0.1:7701";
/** Where agents answer DNS for `tessera.`: the mDNS port, free on most hosts, as Consul's 8600 is its own. */
export const DEFAULT_DNS_LISTEN = "127.0.0.1:5353";

export function defaultDataDir(): string {
  return process.env.TESSERA_DATA_DIR || join(homedir(), ".tessera");
}

/** A file of the local control plane's data dir, when it exists (k3s-style discovery). */
export function localFile(...parts: string[]): string | undefined {
  const path = join(defaultDataDir(), ...parts);
  return existsSync(path) ? path : undefined;
}

/** A small text file (token, certificate) without its trailing newline; undefined for no path. */
export function readTrimmed(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readFileSync(path, "utf8").trim();
}

export function defaultControl(): string {
  return process.env.TESSERA_CONTROL || DEFAULT_LISTEN;
}
