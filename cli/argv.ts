/**
 * Command-line arguments before and after clipanion: options moved to where it reads them, and
 * flag values read as numbers with the flag and the accepted range named in usage errors.
 */
import { UsageError } from "clipanion";

/** Largest value of a uint32 proto field, such as `--limit` and `--tail` are sent as. */
export const UINT32_MAX = 4_294_967_295;

/**
 * `tessera ctl --control ADDR get workloads`: clipanion only reads options after the full
 * command path, so a --control given right after `ctl` is moved to the end (before a `--`,
 * after which `ctl exec` takes everything as the command).
 */
export function hoistCtlOptions(args: string[]): string[] {
  if (args[0] !== "ctl") return args;
  const rest = args.slice(1);
  const moved: string[] = [];
  while (rest[0]?.startsWith("--control")) {
    const flag = rest.shift()!;
    moved.push(flag);
    if (flag === "--control" && rest.length > 0) moved.push(rest.shift()!);
  }
  const dashes = rest.indexOf("--");
  return dashes < 0 ? ["ctl", ...rest, ...moved] : ["ctl", ...rest.slice(0, dashes), ...moved, ...rest.slice(dashes)];
}

/** A flag's value as a whole number from 0 to `max`; anything else is a usage error (exit 2). */
export function wholeNumber(value: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (n <= max) return n;
  throw new UsageError(`${flag}: expected a whole number${max === Number.MAX_SAFE_INTEGER ? "" : ` from 0 to ${max}`}, got "${value}"`);
}

/** A flag's value as one of `choices`; anything else is a usage error (exit 2) naming them. */
export function oneOf<C extends string>(value: string, flag: string, choices: readonly C[]): C {
  const found = choices.find((c) => c === value);
  if (found !== undefined) return found;
  const expected = choices.length > 1 ? `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}` : String(choices[0]);
  throw new UsageError(`${flag}: expected ${expected}, got "${value}"`);
}

/**
 * What each flag's value means, shown in usage lines (`--control ADDR`) where clipanion 3.2
 * can only print `#0`: its options take no value name (only positionals do).
 */
const VALUE_NAMES: Record<string, string> = {
  "--advertise": "NAME",
  "--advertise-address": "IP",
  "--ca-file": "FILE",
  "--ca-hash": "HASH",
  "--ca-secret-file": "FILE",
  "--cgroups": "MODE",
  "--config": "FILE",
  "--control": "ADDR",
  "--cpu-millis": "N",
  "--data-dir": "DIR",
  "--dns-listen": "ADDR",
  "--executor": "KINDS",
  "--file": "FILE",
  "--heartbeat": "DURATION",
  "--host-volume": "NAME=PATH",
  "--instance": "INSTANCE",
  "--join-token": "TOKEN",
  "--label": "KEY=VALUE",
  "--lease-renew": "DURATION",
  "--lease-ttl": "DURATION",
  "--limit": "N",
  "--listen": "ADDR",
  "--memory-mb": "N",
  "--metrics-listen": "ADDR",
  "--name": "NAME",
  "--offline-after": "DURATION",
  "--output": "FORMAT",
  "--pass-env": "NAME",
  "--pids-limit": "N",
  "--placement": "STRATEGY",
  "--plot": "FILE",
  "--port-range": "RANGE",
  "--reserved-ports": "PORTS",
  "--sim-failure-rate": "RATE",
  "--sim-start-delay": "DURATION",
  "--start-grace": "DURATION",
  "--store": "URL",
  "--strategy": "STRATEGY",
  "--suspect-after": "DURATION",
  "--tail": "N",
  "--tick": "DURATION",
  "--timeout": "DURATION",
  "--to-revision": "N",
  "--token": "TOKEN",
  "--what-if": "SEQ=SHIFT",
};

/**
 * clipanion's usage text with `-f,--file #0` read as `-f,--file FILE`; a command's option table
 * (lines `  --flag VALUE    description`) is aligned again for the longer names.
 */
export function nameOptionValues(text: string): string {
  const named = text.replace(/([\w,-]+) #0/g, (all, names: string) => {
    const value = VALUE_NAMES[names.split(",").at(-1)!];
    return value ? `${names} ${value}` : all;
  });
  const row = /^ {2}(-\S*(?: [^ ]+)?) {2,}(\S.*)$/;
  const lines = named.split("\n");
  const width = Math.max(0, ...lines.map((l) => row.exec(l)?.[1]!.length ?? 0));
  return lines.map((l) => l.replace(row, (_, def: string, description: string) => `  ${def.padEnd(width + 4)}${description}`)).join("\n");
}
