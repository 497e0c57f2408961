/**
 * Command-line arguments before and after clipanion: options moved to where it reads them, and
 * flag values read as numbers with the flag and the accepted range named in usage errors.
 */
import { UsageError } from "clipanion";

/** Largest value of a uint32 proto field, such as `--limit` and `--tail` are sent as. */
export const UINT32_MAX = 4_294_967_295;

/** ctl's global flags (every ctl command's options): those that take a value, and the switch. */
const CTL_FLAGS_WITH_VALUE: ReadonlySet<string> = new Set(["--control", "--token", "--ca-file"]);
const CTL_SWITCHES: ReadonlySet<string> = new Set(["--insecure"]);

/**
 * `tessera ctl --token T get nodes`: clipanion only reads options after the full command path,
 * so ctl's global flags given anywhere before it (as kubectl takes them) are moved to the end
 * (before a `--`, after which `ctl exec` takes everything as the command).
 */
export function hoistCtlOptions(args: string[]): string[] {
  if (args[0] !== "ctl") return args;
  const dashes = args.indexOf("--");
  const end = dashes < 0 ? args.length : dashes;
  const kept: string[] = [];
  const moved: string[] = [];
  for (let k = 1; k < end; k++) {
    const arg = args[k]!;
    const name = arg.split("=")[0]!;
    if (CTL_SWITCHES.has(arg)) moved.push(arg);
    else if (!CTL_FLAGS_WITH_VALUE.has(name)) kept.push(arg);
    else {
      moved.push(arg);
      if (arg === name && k + 1 < end) moved.push(args[++k]!);
    }
  }
  return ["ctl", ...kept, ...moved, ...args.slice(end)];
}

/**
 * `tessera ctl apply` without -f: clipanion matches no command then and answers "Command not
 * found; did you mean…". When the words name a command whose usage (a candidate's, `<-f,--file
 * #0>` for a required option) has a required option the arguments lack, says that instead:
 * "-f FILE is required; see `tessera ctl apply --help`". Undefined when that is not why.
 */
export function missingRequiredOption(args: string[], candidates: ReadonlyArray<{ usage: string }>): string | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  const given = new Set(args.map((a) => a.split("=")[0]!));
  for (const { usage } of candidates) {
    const tokens = usage.split(" ");
    const path = tokens.slice(1, tokens.findIndex((t, i) => i > 0 && /^[[<]/.test(t)) >>> 0);
    if (path.length === 0 || !path.every((w, i) => words[i] === w)) continue;
    for (const [, names] of usage.matchAll(/<(-[\w,-]+) #0>/g)) {
      const flags = names!.split(",");
      if (!flags.some((f) => given.has(f))) return `${flags[0]} ${VALUE_NAMES[flags.at(-1)!] ?? "VALUE"} is required; see \`tessera ${path.join(" ")} --help\``;
    }
  }
  return undefined;
}

/**
 * clipanion lists a command once per path in "did you mean" (`get workloads` and `get
 * workload` both as `get workloads`): each usage once, numbered again.
 */
export function dedupeSuggestions(text: string): string {
  const seen = new Set<string>();
  let n = 0;
  return text
    .split("\n")
    .flatMap((line) => {
      const m = /^ *\d+\. (.*)$/.exec(line);
      if (!m) return [line];
      if (seen.has(m[1]!)) return [];
      seen.add(m[1]!);
      return [`${`${n++}.`.padStart(4)} ${m[1]}`];
    })
    .join("\n");
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
  "--from": "SEQ",
  "--from-env-file": "FILE",
  "--from-file": "KEY=PATH",
  "--from-literal": "KEY=VALUE",
  "--heartbeat": "DURATION",
  "--host-volume": "NAME=PATH",
  "--instance": "INSTANCE",
  "--join-token": "TOKEN",
  "--kind": "KIND",
  "--key": "KEY",
  "--label": "KEY=VALUE",
  "--lease-renew": "DURATION",
  "--lease-ttl": "DURATION",
  "--limit": "N",
  "--listen": "ADDR",
  "--max-heartbeats-per-second": "N",
  "--memory-mb": "N",
  "--metrics-listen": "ADDR",
  "--name": "NAME",
  "--node": "NODE",
  "--offline-after": "DURATION",
  "--output": "FORMAT",
  "--pass-env": "NAME",
  "--pids-limit": "N",
  "--placement": "STRATEGY",
  "--plot": "FILE",
  "--port-range": "RANGE",
  "--reserved-ports": "PORTS",
  "--restore": "FILE",
  "--sim-failure-rate": "RATE",
  "--snapshot-every": "DURATION",
  "--snapshot-keep": "N",
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
  "--topic": "TOPIC",
  "--ttl": "DURATION",
  "--uses": "N",
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
