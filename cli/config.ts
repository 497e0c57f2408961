/**
 * `--config FILE`: TOML (parsed by Bun) whose keys mirror a command's flags, without the
 * dashes (`data-dir = "/var/lib/tessera"`, `label = ["zone=a"]`). A flag given on the command
 * line wins over the file; the file wins over the default. Unknown keys and wrong types are
 * refused with the key named.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "clipanion";

/** "list": a comma-separated string, or an array of strings read as one (`control = ["a:7700", "b:7700"]`). */
export type ConfigKind = "string" | "boolean" | "strings" | "list";
export type ConfigSchema = Record<string, ConfigKind>;
export type ConfigValues = Record<string, string | boolean | string[]>;

export function loadConfig(path: string, schema: ConfigSchema): ConfigValues {
  let parsed: Record<string, unknown>;
  try {
    parsed = Bun.TOML.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--config ${path}: ${(err as Error).message}`);
  }
  const values: ConfigValues = {};
  for (const [key, value] of Object.entries(parsed)) {
    const kind = schema[key];
    if (!kind) throw new UsageError(`--config ${path}: unknown key "${key}"; expected one of ${Object.keys(schema).join(", ")}`);
    if (kind === "boolean" && typeof value === "boolean") values[key] = value;
    else if (kind === "string" && (typeof value === "string" || typeof value === "number")) values[key] = String(value);
    else if (kind === "strings" && Array.isArray(value) && value.every((v) => typeof v === "string")) values[key] = value as string[];
    else if (kind === "list" && typeof value === "string") values[key] = value;
    else if (kind === "list" && Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) values[key] = value.join(",");
    else throw new UsageError(`--config ${path}: "${key}" expected ${kind === "strings" ? "an array of strings" : kind === "list" ? "a string or an array of strings" : `a ${kind}`}, got ${JSON.stringify(value)}`);
  }
  return values;
}

