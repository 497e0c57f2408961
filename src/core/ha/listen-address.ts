/** What a `host:port` listen address, or an HTTP request's Host header, says about where it is. PURE. */

/** The host of `host:port` (`[::1]:80` → `::1`). */
export function hostOf(listen: string): string {
  return listen.slice(0, listen.lastIndexOf(":")).replace(/^\[|\]$/g, "");
}

/** A loopback address or name: 127.0.0.0/8 written as four numbers, ::1, localhost (never a name such as `127.evil.example`). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (h === "localhost" || h === "::1") return true;
  const parts = h.split(".");
  return parts.length === 4 && parts[0] === "127" && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** Only this machine can reach it: plaintext is acceptable there. */
export function isLoopback(listen: string): boolean {
  return isLoopbackHost(hostOf(listen));
}

/**
 * The host named by an HTTP Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case;
 * undefined when it is not one.
 */
export function hostOfHeader(header: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::\d{1,5})?$/.exec(header);
  return m ? (m[1] ?? m[2]!).toLowerCase() : undefined;
}

/**
 * A request's Host header names this control plane: a loopback address, or one of the names
 * and addresses it serves as (its certificate's, its listen address, --advertise). Anything
 * else is a page on a name that resolves here by accident or by design (DNS rebinding).
 */
export function hostServed(header: string | null, names: readonly string[]): boolean {
  const host = header === null ? undefined : hostOfHeader(header);
  if (host === undefined) return false;
  return isLoopbackHost(host) || names.some((n) => n.toLowerCase().replace(/^\[|\]$/g, "") === host.replace(/\.$/, ""));
}
