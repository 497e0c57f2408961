/**
 * Flag tables: a server command lists each of its flags once, as one row (kind, default,
 * help) under the flag's name, which is also its `--config` key. From that row come the
 * clipanion option, the config file's schema, the value when neither the command line nor the
 * file gives one, and the help line, so the four cannot disagree.
 */
import { Option } from "clipanion";
import { TesseraCommand } from "./base.js";
import { type ConfigKind, type ConfigSchema, type ConfigValues, loadConfig } from "./config.js";

/**
 * string: one value. list: one value on the command line, a string or an array of strings in
 * the file (read as one, comma-separated). strings: repeatable, an array in the file. boolean:
 * given or not. count: how many times given; `true` in the file counts once.
 */
export type FlagKind = "string" | "list" | "strings" | "boolean" | "count";

export interface Flag {
  kind: FlagKind;
  /** The help line; `{default}` is where a literal default is shown (a row with one must show it). */
  help: string;
  /**
   * A string flag's value when neither the command line nor the file gives one: a literal, or
   * worked out at run time (from the environment; its help says in words what it is). Without
   * one the value is undefined and the command decides. Others default to false, 0 or [].
   */
  default?: string | (() => string);
  /** A command-line act only (`--reinitialize`), not a setting to leave in a config file. */
  flagOnly?: true;
}

export type FlagTable = Record<string, Flag>;

type ValueOf<F extends Flag> = F["kind"] extends "boolean"
  ? boolean
  : F["kind"] extends "count"
    ? number
    : F["kind"] extends "strings"
      ? string[]
      : F extends { default: string | (() => string) }
        ? string
        : string | undefined;

/** Each flag's value: the command line's, else the config file's, else the row's default. */
export type FlagValues<T extends FlagTable> = { [K in keyof T]: ValueOf<T[K]> };

/** The help line of a row: its literal default shown where `{default}` says. */
export function helpOf(name: string, flag: Flag): string {
  if (typeof flag.default !== "string") return flag.help;
  if (!flag.help.includes("{default}")) throw new Error(`--${name}: its help does not show its default "${flag.default}"`);
  return flag.help.replace("{default}", flag.default);
}

/** The config file's keys: every row but the flag-only ones, with what the file may hold. */
export function configSchema(table: FlagTable): ConfigSchema {
  const schema: ConfigSchema = {};
  for (const [name, flag] of Object.entries(table)) if (!flag.flagOnly) schema[name] = flag.kind === "count" ? "boolean" : (flag.kind satisfies ConfigKind);
  return schema;
}

/** The clipanion options of a table, keyed by the flag as given (`--suspect-after`). */
function optionsOf(table: FlagTable): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table)) {
    const key = `--${name}`;
    const settings = { description: helpOf(name, flag) };
    if (flag.kind === "boolean") options[key] = Option.Boolean(key, settings);
    else if (flag.kind === "count") options[key] = Option.Counter(key, settings);
    else if (flag.kind === "strings") options[key] = Option.Array(key, settings);
    else options[key] = Option.String(key, settings);
  }
  return options;
}

function fallback(flag: Flag): unknown {
  if (flag.kind === "boolean") return false;
  if (flag.kind === "count") return 0;
  if (flag.kind === "strings") return [];
  return typeof flag.default === "function" ? flag.default() : flag.default;
}

/** Command line, else config file, else default, for every row. */
export function resolveFlags<T extends FlagTable>(table: T, given: Record<string, unknown>, file: ConfigValues): FlagValues<T> {
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table)) {
    const fromFile = flag.kind === "count" && name in file ? Number(file[name] === true) : file[name];
    values[name] = given[`--${name}`] ?? fromFile ?? fallback(flag);
  }
  return values as FlagValues<T>;
}

/**
 * A command whose flags are a table's rows. clipanion finds options among an instance's
 * properties (`for (key in command)`), so each row's option is made a property here, under its
 * flag; a row named `config` is the path of the TOML file the others may be read from.
 */
export abstract class TableCommand<T extends FlagTable> extends TesseraCommand {
  protected constructor(private readonly table: T) {
    super();
    Object.assign(this, optionsOf(table));
  }

  protected flags(): FlagValues<T> {
    const given = this as unknown as Record<string, unknown>;
    const path = given["--config"];
    const file = "config" in this.table && typeof path === "string" ? loadConfig(path, configSchema(this.table)) : {};
    return resolveFlags(this.table, given, file);
  }
}
