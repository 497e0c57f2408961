/**
 * Command-line arguments before and after clipanion: options moved to where it reads them, and
 * flag values read as numbers with the flag and the accepted range named in usage errors.
 */
import { UsageError } from "clipanion";

/** Largest value of a uint32 proto field, such as `--limit` and `--tail` are sent as. */
export const UINT32_MAX = 4_294_967_295;

/**
 * `tessera ctl --control ADDR get workloads`: clipanion only reads options after the full
 * command path, so a --control given right after `ctl` is moved to the end.
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
  return ["ctl", ...rest, ...moved];
}

/** A flag's value as a whole number from 0 to `max`; anything else is a usage error (exit 2). */
export function wholeNumber(value: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (n <= max) return n;
  throw new UsageError(`${flag}: expected a whole number${max === Number.MAX_SAFE_INTEGER ? "" : ` from 0 to ${max}`}, got "${value}"`);
}
