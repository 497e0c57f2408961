/**
 * Each flag of control, agent and dev is one row of its command's table: the option clipanion
 * parses, the help line, the --config key and the default all come from that row.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cli, type Command } from "clipanion";
import { nameOptionValues } from "../../cli/argv.js";
import { configSchema, type Flag, type FlagTable, helpOf } from "../../cli/flag-table.js";
import { parseDuration } from "../../cli/duration.js";
import { AgentCommand, ControlCommand, DevCommand } from "../../cli/server-commands.js";
import { AGENT_FLAGS, CONTROL_FLAGS, DEV_FLAGS } from "../../cli/server-flags.js";
import { DEFAULT_LEASE_TIMING } from "../../src/core/ha/lease.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COMMANDS = [
  { path: "control", command: ControlCommand, table: CONTROL_FLAGS as FlagTable },
  { path: "agent", command: AgentCommand, table: AGENT_FLAGS as FlagTable },
  { path: "dev", command: DevCommand, table: DEV_FLAGS as FlagTable },
];

const cli = new Cli({ binaryName: "tessera", enableColors: false });
for (const { command } of COMMANDS) cli.register(command);

/** The command clipanion makes of `args`, and what its table resolves for it. */
function flagsOf(args: string[]): Record<string, unknown> {
  const command = cli.process(args) as Command & { flags(): Record<string, unknown> };
  return command.flags();
}

/** A value the config file gives a row, and the value it resolves to. */
function sample(name: string, flag: Flag): { toml: string; value: unknown } {
  switch (flag.kind) {
    case "boolean":
      return { toml: "true", value: true };
    case "count":
      return { toml: "true", value: 1 };
    case "strings":
      return { toml: `["from-file-${name}"]`, value: [`from-file-${name}`] };
    case "list":
      return { toml: `["a-${name}:1", "b-${name}:2"]`, value: `a-${name}:1,b-${name}:2` };
    case "string":
      return { toml: `"from-file-${name}"`, value: `from-file-${name}` };
  }
}

/** Command-line words that give a row a value other than the file's. */
function given(name: string, flag: Flag): { args: string[]; value: unknown } {
  if (flag.kind === "boolean") return { args: [`--no-${name}`], value: false };
  if (flag.kind === "count") return { args: [`--${name}`, `--${name}`], value: 2 };
  if (flag.kind === "strings") return { args: [`--${name}`, "from-flag"], value: ["from-flag"] };
  return { args: [`--${name}=from-flag`], value: "from-flag" };
}

describe.each(COMMANDS)("tessera $path", ({ path, command, table }) => {
  const rows = Object.entries(table);
  const help = nameOptionValues(cli.usage(command, { detailed: true }));

  test.each(rows)("--%s: its help line is its row's, with its value named", (name, flag) => {
    const line = help.split("\n").find((l) => l.trimStart().startsWith(`--${name} `));
    expect(line).toBeDefined();
    expect(line!.trimEnd().endsWith(helpOf(name, flag))).toBe(true);
    expect(line).not.toContain("#0");
  });

  test("the help lists the table's rows and nothing else, in its order", () => {
    const listed = [...help.matchAll(/^ {2}--([\w-]+)/gm)].map((m) => m[1]);
    expect(listed).toEqual(rows.map(([name]) => name));
  });

  test("without a flag or a file, each row's default", () => {
    const values = flagsOf([path]);
    for (const [name, flag] of rows) {
      const expected = flag.kind === "boolean" ? false : flag.kind === "count" ? 0 : flag.kind === "strings" ? [] : typeof flag.default === "function" ? flag.default() : flag.default;
      expect({ name, value: values[name] }).toEqual({ name, value: expected });
    }
  });

  if (!("config" in table)) return;
  const fileRows = rows.filter(([, flag]) => !flag.flagOnly);

  test("every row but the flag-only ones is a config key; a file sets each, a flag wins over it", () => {
    expect(Object.keys(configSchema(table))).toEqual(fileRows.map(([name]) => name));
    const file = join(dir, `${path}-all.toml`);
    writeFileSync(file, fileRows.map(([name, flag]) => `${name} = ${sample(name, flag).toml}\n`).join(""));
    const fromFile = flagsOf([path, "--config", file]);
    for (const [name, flag] of fileRows) expect({ name, value: fromFile[name] }).toEqual({ name, value: sample(name, flag).value });
    const overridden = flagsOf([path, "--config", file, ...fileRows.flatMap(([name, flag]) => given(name, flag).args)]);
    for (const [name, flag] of fileRows) expect({ name, value: overridden[name] }).toEqual({ name, value: given(name, flag).value });
  });

  test.each(rows.filter(([, flag]) => flag.flagOnly))("--%s is a flag only: a config file naming it is refused", (name) => {
    const file = join(dir, `${path}-${name}.toml`);
    writeFileSync(file, `${name} = "x"\n`);
    expect(() => flagsOf([path, "--config", file])).toThrow(`unknown key "${name}"`);
  });
});

test("a row whose help does not show its literal default is refused", () => {
  expect(() => helpOf("tick", { kind: "string", default: "2s", help: "interval of the periodic reconcile pass" })).toThrow('--tick: its help does not show its default "2s"');
});

test("the control plane's health and lease defaults are the core's", () => {
  const values = flagsOf(["control"]);
  const ms = (name: string) => parseDuration(String(values[name]), `--${name}`);
  expect([ms("suspect-after"), ms("offline-after"), ms("start-grace")]).toEqual([DEFAULT_POLICY.suspectAfterMs, DEFAULT_POLICY.offlineAfterMs, DEFAULT_POLICY.startGraceMs]);
  expect([ms("lease-ttl"), ms("lease-renew")]).toEqual([DEFAULT_LEASE_TIMING.ttlMs, DEFAULT_LEASE_TIMING.renewMs]);
  expect(values.placement).toBe(DEFAULT_POLICY.placement);
  expect(Number(values["max-heartbeats-per-second"])).toBe(DEFAULT_POLICY.maxHeartbeatsPerSecond);
});
