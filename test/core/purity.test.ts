/**
 * src/core is PURE: it imports no I/O modules, only types from generated code, and reads no
 * clock or randomness. This test reads the sources (comments ignored) and names each breach
 * as `file:line: what — the offending text`.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";

const ROOT = resolve(import.meta.dir, "..", "..");
const CORE = join(ROOT, "src", "core");
const GEN = join(ROOT, "src", "gen");

/**
 * Two views of a source, same length and same line breaks: `code` without comments (strings
 * kept, for import specifiers) and `bare` without comments or string contents (for names used
 * in code, so the string "process" or a comment about Date.now is not a breach).
 */
function lex(src: string): { code: string; bare: string } {
  let code = "";
  let bare = "";
  const blank = (s: string) => s.replace(/[^\n]/g, " ");
  const emit = (s: string, kind: "code" | "string" | "comment") => {
    code += kind === "comment" ? blank(s) : s;
    bare += kind === "code" ? s : blank(s);
  };
  // Each entry is an open template literal; its number counts `{` inside its current `${`.
  const templates: number[] = [];
  let i = 0;
  let lastSignificant = "";
  let lastWord = "";
  const n = src.length;
  /** After these, a slash starts a regular expression rather than dividing. */
  const beforeRegex = (sig: string, word: string) =>
    sig === "" || "(,=:[!&|?{};+-*%<>~^".includes(sig) || (sig === "a" && /^(return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/.test(word));

  const readTemplateText = () => {
    // At the char after "`" or after the "}" closing a substitution.
    const start = i;
    while (i < n && src[i] !== "`" && !(src[i] === "$" && src[i + 1] === "{")) i += src[i] === "\\" ? 2 : 1;
    emit(src.slice(start, i), "string");
    if (src[i] === "`") {
      emit("`", "string");
      i++;
      templates.pop();
      lastSignificant = "`";
    } else if (i < n) {
      emit("${", "code");
      i += 2;
      templates[templates.length - 1] = 0;
      lastSignificant = "{";
    }
  };

  while (i < n) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      emit(src.slice(i, stop), "comment");
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      emit(src.slice(i, stop), "comment");
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      emit(c, "code");
      emit(src.slice(i + 1, j), "string");
      if (j < n) emit(src[j]!, "code");
      i = j + 1;
      lastSignificant = c;
    } else if (c === "`") {
      emit("`", "string");
      i++;
      templates.push(0);
      readTemplateText();
    } else if (c === "}" && templates.length > 0 && templates[templates.length - 1] === 0) {
      emit("}", "code");
      i++;
      readTemplateText();
    } else if (c === "/" && beforeRegex(lastSignificant, lastWord)) {
      // A regular expression literal: skip to its closing slash, outside character classes.
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== "\n" && (inClass || src[j] !== "/")) {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") inClass = true;
        else if (src[j] === "]") inClass = false;
        j++;
      }
      emit(src.slice(i, j + 1), "string");
      i = j + 1;
      lastSignificant = "/";
    } else {
      if (templates.length > 0 && c === "{") templates[templates.length - 1]!++;
      if (templates.length > 0 && c === "}") templates[templates.length - 1]!--;
      emit(c, "code");
      if (/[\w$]/.test(c)) lastWord = lastSignificant === "a" ? lastWord + c : c;
      if (!/\s/.test(c)) lastSignificant = /[\w$]/.test(c) ? "a" : c;
      i++;
    }
  }
  return { code, bare };
}

/** Module specifiers the core must not import at all, even for types. */
const FORBIDDEN_MODULES: Array<[RegExp, string]> = [
  [/^bun(:|$)/, "bun:* is the runtime"],
  [/^node:/, "node:* is I/O"],
  [/^@grpc\//, "@grpc/* is the wire shell"],
  [/^drizzle-orm(\/|$)/, "drizzle-orm is the store shell"],
  [/^dockerode(\/|$)/, "dockerode is the agent shell"],
];
const BUILTINS = new Set(builtinModules);

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

const IMPORTS = [
  // import … from "x" / export … from "x" (also `import type`, `export type`, `export *`).
  /\b(import|export)\s+(type\s+)?([\w$*{}\s,]*?)\s*from\s*["']([^"']+)["']/g,
  // import "x" (side effects only)
  /\bimport\s*["']([^"']+)["']/g,
  // import("x"), require("x")
  /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g,
];

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

/** Every breach in one file, as `file:line: what — text`. `file` is absolute. */
function breaches(file: string, src: string): string[] {
  const { code, bare } = lex(src);
  const lines = src.split("\n");
  const name = relative(ROOT, file).split(sep).join("/");
  const out: string[] = [];
  const at = (index: number, what: string) => {
    const line = lineOf(src, index);
    out.push(`${name}:${line}: ${what} — ${lines[line - 1]!.trim()}`);
  };

  for (const [k, re] of IMPORTS.entries()) {
    for (const m of code.matchAll(re)) {
      const typeOnly = k === 0 && m[2] !== undefined;
      const spec = k === 0 ? m[4]! : m[1]!;
      const forbidden = FORBIDDEN_MODULES.find(([r]) => r.test(spec));
      if (forbidden) at(m.index!, `imports "${spec}" (${forbidden[1]})`);
      else if (BUILTINS.has(spec)) at(m.index!, `imports "${spec}" (a Node built-in is I/O)`);
      else if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (target === GEN || target.startsWith(GEN + sep)) {
          // `import { type X }` keeps a runtime import under verbatimModuleSyntax; only
          // `import type` / `export type` is surely erased.
          if (!typeOnly) at(m.index!, `imports a value from src/gen "${spec}" (use \`import type\`)`);
        } else if (!(target === CORE || target.startsWith(CORE + sep))) at(m.index!, `imports "${spec}" from outside src/core`);
      }
    }
  }
  for (const [re, what] of CODE_PATTERNS) for (const m of bare.matchAll(re)) at(m.index!, what);
  return out.sort();
}

const files = readdirSync(CORE, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts"))
  .map((f) => join(CORE, f))
  .sort();

describe("src/core is pure", () => {
  test("the scan sees the core's files", () => {
    const names = files.map((f) => relative(CORE, f));
    for (const known of ["decide.ts", "instance-machine.ts", "model.ts", "reconcile.ts", "validate.ts"]) expect(names).toContain(known);
  });

  test.each(files.map((f) => [relative(ROOT, f), f]))("%s", (_, file) => {
    expect(breaches(file, readFileSync(file, "utf8"))).toEqual([]);
  });
});

describe("the scanner itself", () => {
  const file = join(CORE, "example.ts");
  const scan = (src: string) => breaches(file, src).map((b) => b.replace(/^src\/core\/example\.ts:\d+: /, "").replace(/ — .*$/, ""));

  test.each([
    ['import { readFileSync } from "node:fs";', 'imports "node:fs" (node:* is I/O)'],
    ['import type { Database } from "bun:sqlite";', 'imports "bun:sqlite" (bun:* is the runtime)'],
    ['import * as grpc from "@grpc/grpc-js";', 'imports "@grpc/grpc-js" (@grpc/* is the wire shell)'],
    ['import { eq } from "drizzle-orm/sql";', 'imports "drizzle-orm/sql" (drizzle-orm is the store shell)'],
    ['import Docker from "dockerode";', 'imports "dockerode" (dockerode is the agent shell)'],
    ['import fs from "fs";', 'imports "fs" (a Node built-in is I/O)'],
    ['const m = await import("node:os");', 'imports "node:os" (node:* is I/O)'],
    ['import {\n  WorkloadSpec,\n} from "../gen/tessera/v1/types.js";', 'imports a value from src/gen "../gen/tessera/v1/types.js" (use `import type`)'],
    ['import { type WorkloadSpec } from "../gen/tessera/v1/types.js";', 'imports a value from src/gen "../gen/tessera/v1/types.js" (use `import type`)'],
    ['export { WorkloadSpec } from "../gen/tessera/v1/types.js";', 'imports a value from src/gen "../gen/tessera/v1/types.js" (use `import type`)'],
    ['import { runTurn } from "../control/writer.js";', 'imports "../control/writer.js" from outside src/core'],
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
    'import type { WorkloadSpec } from "../gen/tessera/v1/types.js";',
    'export type { WorkloadSpec } from "../gen/tessera/v1/types.js";',
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
    expect(breaches(file, 'const a = 1;\nconst t = Date.now();\nimport fs from "node:fs";\n')).toEqual([
      'src/core/example.ts:2: reads the clock (Date.now) — const t = Date.now();',
      'src/core/example.ts:3: imports "node:fs" (node:* is I/O) — import fs from "node:fs";',
    ]);
  });
});
