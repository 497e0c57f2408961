/**
 * The Logger implementation injected into control plane and agent: JSON lines on stderr when
 * it is not a terminal, readable lines otherwise; level from TESSERA_LOG.
 */
import type { LogFields, Logger, LogLevel } from "../src/shell/logger.js";

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function parseLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === "") return "info";
  if (value in RANK) return value as LogLevel;
  throw new Error(`TESSERA_LOG: expected error, warn, info or debug, got "${value}"`);
}

export function createLogger(opts: { level: LogLevel; json: boolean; base?: LogFields; write?: (line: string) => void }): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const base = opts.base ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] > RANK[opts.level]) return;
    const all = { ...base, ...fields };
    if (opts.json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...all }));
      return;
    }
    const rest = Object.entries(all)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    write(`${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${rest ? ` ${rest}` : ""}`);
  };
  return {
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    with: (fields) => createLogger({ ...opts, base: { ...base, ...fields }, write }),
  };
}

/** The process-wide logger as configured by the environment. */
export function processLogger(component: string): Logger {
  return createLogger({ level: parseLevel(process.env.TESSERA_LOG), json: !process.stderr.isTTY, base: { component } });
}
