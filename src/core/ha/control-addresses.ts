/**
 * Where ctl and agents look for the control plane: a list of `host:port` (`a:7700,b:7700`),
 * and which of them to try next after an answer. PURE: the shells dial, this decides.
 */

export type ParsedAddresses = { ok: true; addresses: string[] } | { ok: false; error: string };

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/;

/** `a:7700,b:7700` → ["a:7700", "b:7700"]; spaces around commas are allowed, duplicates dropped. */
export function parseAddressList(text: string, flag: string): ParsedAddresses {
  const parts = text.split(",").map((p) => p.trim());
  const bad = parts.find((p) => {
    const m = HOST_PORT.exec(p);
    return !m || Number(m[2]) > 65535;
  });
  if (bad !== undefined) return { ok: false, error: `${flag}: expected host:port[,host:port...], got ${JSON.stringify(text)}${bad === "" ? " (an empty address)" : ` (${JSON.stringify(bad)} is not host:port)`}` };
  return { ok: true, addresses: [...new Set(parts)] };
}

const LEADER_AT = /the leader is at (\S+?:\d+) \(epoch \d+\)/;

/** The address a standby's refusal names ("not the leader; the leader is at HOST:PORT (epoch N)"), if it names one. */
export function leaderNamedIn(details: string): string | undefined {
  return LEADER_AT.exec(details)?.[1];
}

/** A refusal that says the control plane answering is not the leader. */
export function isNotLeader(details: string): boolean {
  return details.startsWith("not the leader");
}

/**
 * ctl's next address after `tried` failed: the leader the last answer named, unless already
 * tried (a stale hint must not loop), else the first of the list not yet tried; none when
 * every one has been tried.
 */
export function nextUntried(addresses: readonly string[], tried: readonly string[], named: string | undefined): string | undefined {
  if (named !== undefined && !tried.includes(named)) return named;
  return addresses.find((a) => !tried.includes(a));
}

/**
 * An agent's next address after its stream at `current` failed: the leader the refusal named,
 * else the one after `current` in the list (round and round: an agent never gives up).
 */
export function nextAfter(addresses: readonly string[], current: string, named: string | undefined): string {
  if (named !== undefined && named !== current) return named;
  const i = addresses.indexOf(current);
  return addresses[(i + 1) % addresses.length] ?? current;
}
