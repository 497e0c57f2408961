/** What a `host:port` listen address says about where it listens. PURE. */

/** The host of `host:port` (`[::1]:80` → `::1`). */
export function hostOf(listen: string): string {
  return listen.slice(0, listen.lastIndexOf(":")).replace(/^\[|\]$/g, "");
}

/** Only this machine can reach it: plaintext is acceptable there. */
export function isLoopback(listen: string): boolean {
  const host = hostOf(listen);
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
