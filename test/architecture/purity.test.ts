/**
 * src/core and src/sim are PURE (ARCHITECTURE.md, Layers): they read no clock and no randomness, touches no
 * process and schedules nothing; now and randomness come in as inputs. This test reads the
 * sources (comments and strings ignored) and names each breach as `file:line: what — the
 * offending text`. What the core may import is boundaries.test.ts's job.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { lex, lineOf } from "./source-scan.js";

const ROOT = resolve(import.meta.dir, "..", "..");
const CORE = join(ROOT, "src", "core");
const PURE_FOLDERS = [CORE, join(ROOT, "src", "sim")];

const CODE_PATTERNS: Array<[RegExp, string]> = [
  [/\bDate\s*\.\s*now\b/g, "reads the clock (Date.now)"],
  [/\bnew\s+Date\b/g, "reads the clock (new Date)"],
  [/\bperformance\s*\.\s*now\b/g, "reads the clock (performance.now)"],
  [/\bMath\s*\.\s*random\b/g, "uses randomness (Math.random)"],
  [/(?<![.\w$])crypto\s*\./g, "uses randomness (crypto)"],
  [/\bsetTimeout\b/g, "schedules work (setTimeout)"],
  [/\bsetInterval\b/g, "schedules work (setInterval)"],
  [/\bsetImmediate\b/g, "schedules work (setImmediate)"],
  [/(?<![.\w$])process\s*[.[]|=\s*process\b(?!\s*[.[])/g, "touches the process (process)"],
];

/** Every breach in one file, as `file:line: what — text`. `file` is absolute. */
function breaches(file: string, src: string): string[] {
  const { bare } = lex(src);
  const lines = src.split("\n");
  const name = relative(ROOT, file).split(sep).join("/");
  const out: string[] = [];
  const at = (index: number, what: string) => {
    const line = lineOf(src, index);
    out.push(`${name}:${line}: ${what} — ${lines[line - 1]!.trim()}`);
  };
  for (const [re, what] of CODE_PATTERNS) for (const m of bare.matchAll(re)) at(m.index!, what);
  return out.sort();
}

const files = PURE_FOLDERS.flatMap((folder) =>
  readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(folder, f)))
  .sort();

describe("src/core and src/sim are pure", () => {
  test("the scan sees the core's and the simulator's files", () => {
    const names = files.map((f) => relative(ROOT, f).split(sep).join("/"));
    for (const known of ["src/core/decide/decide.ts", "src/core/model/instance-machine.ts", "src/core/events/cluster-events.ts", "src/core/reconcile/reconcile.ts", "src/core/model/validate.ts", "src/sim/simulated-fleet.ts"]) expect(names).toContain(known);
  });

  test.each(files.map((f) => [relative(ROOT, f), f]))("%s", (_, file) => {
    expect(breaches(file, readFileSync(file, "utf8"))).toEqual([]);
  });
});

describe("the scanner itself", () => {
  const file = join(CORE, "example.ts");
  const scan = (src: string) => breaches(file, src).map((b) => b.replace(/^src\/core\/example\.ts:\d+: /, "").replace(/ — .*$/, ""));

  test.each([
    ["const t = Date.now();", "reads the clock (Date.now)"],
    ["const d = new Date(0);", "reads the clock (new Date)"],
    ["const t = performance.now();", "reads the clock (performance.now)"],
    ["const r = Math.random();", "uses randomness (Math.random)"],
    ["const id = crypto.randomUUID();", "uses randomness (crypto)"],
    ["setTimeout(f, 10);", "schedules work (setTimeout)"],
    ["const h = setInterval(f, 10);", "schedules work (setInterval)"],
    ["const home = process.env.HOME;", "touches the process (process)"],
    ["const { env } = process;", "touches the process (process)"],
    ["const s = `at ${Date.now()} ms`;", "reads the clock (Date.now)"],
  ])("flags %p", (src, what) => {
    expect(scan(src)).toEqual([what]);
  });

  test.each([
    'import { transition } from "./instance-machine.js";',
    "// Date.now() must never be called here; nor process.exit()",
    "/* Math.random() would make replays differ */ const x = 1;",
    'const kind = spec.image !== "" ? "docker" : "process";',
    'const msg = "call process.exit() or Date.now() in the shell";',
    "const s = `${name} // not a comment ${'process.env'}`; const t = Date2.now;",
    "const R = /^[a-z'\"]+\\/\\//; const y = 2; // process.env",
    "const half = a / b / c; const spec = { process: 1 }; spec.process.kind;",
    "function f(s: string) { return /'/.test(s); } // process.env",
  ])("accepts %p", (src) => {
    expect(scan(src)).toEqual([]);
  });

  test("a breach names the file, the line and the text", () => {
    expect(breaches(file, 'const a = 1;\nconst t = Date.now();\nconst r = Math.random();\n')).toEqual([
      "src/core/example.ts:2: reads the clock (Date.now) — const t = Date.now();",
      "src/core/example.ts:3: uses randomness (Math.random) — const r = Math.random();",
    ]);
  });
});
