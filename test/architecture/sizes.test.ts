/**
 * Sizes a reader can hold at once (issue 28): no source file under src/ and cli/ over 400 lines
 * and no function over 80, src/gen (generated from proto/) aside. The exceptions are the one
 * table ALLOWED, each with its reason; an entry that no longer matches anything fails too, so the
 * table only shrinks. Functions are found by source-scan.ts's brace scanner, not a parser.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { functionBlocks } from "./source-scan.js";

const ROOT = resolve(import.meta.dir, "..", "..");
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;

/** A file (no `fn`) or a function (its header contains `fn`) allowed over the limit, and why. */
interface Allowed {
  file: string;
  fn?: string;
  why: string;
}

/** Empty: every file and function of src/ and cli/ is within its limit. */
const ALLOWED: Allowed[] = [];

/** Every file or function in `file` over its limit, as `file:line: head — N lines (over M)`, allowed ones left out. */
function oversize(file: string, src: string): string[] {
  const out: string[] = [];
  const lines = lineCount(src);
  if (lines > MAX_FILE_LINES && !allowed(file)) out.push(`${file}: ${lines} lines (over ${MAX_FILE_LINES})`);
  for (const f of functionBlocks(src)) {
    if (f.lines <= MAX_FUNCTION_LINES || allowed(file, f.head)) continue;
    out.push(`${file}:${f.line}: ${f.head.length > 90 ? `${f.head.slice(0, 90)}…` : f.head} — ${f.lines} lines (over ${MAX_FUNCTION_LINES})`);
  }
  return out;
}

/** Lines as an editor numbers them: a final newline ends the last line, it does not start one. */
function lineCount(src: string): number {
  return src.split("\n").length - (src.endsWith("\n") ? 1 : 0);
}

function allowed(file: string, head?: string): boolean {
  return ALLOWED.some((a) => a.file === file && (head === undefined ? a.fn === undefined : a.fn !== undefined && head.includes(a.fn)));
}

const files = ["src", "cli"]
  .flatMap((dir) => readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" }).map((f) => `${dir}/${f.split(sep).join("/")}`))
  .filter((f) => f.endsWith(".ts") && !f.startsWith("src/gen/"))
  .sort();

describe("sizes", () => {
  test.each(files.map((f) => [f]))("%s", (file) => {
    expect(oversize(file, readFileSync(join(ROOT, file), "utf8"))).toEqual([]);
  });

  test("every allowed exception is still over its limit (shrink the table when one is not)", () => {
    const stale = ALLOWED.filter((a) => {
      if (!files.includes(a.file)) return true;
      const src = readFileSync(join(ROOT, a.file), "utf8");
      if (a.fn === undefined) return lineCount(src) <= MAX_FILE_LINES;
      return !functionBlocks(src).some((f) => f.lines > MAX_FUNCTION_LINES && f.head.includes(a.fn!));
    });
    expect(stale.map((a) => `${a.file}${a.fn ? ` ${a.fn}` : ""}`)).toEqual([]);
  });
});

describe("the function scanner", () => {
  /** `n` filler lines of body. */
  const body = (n: number) => Array.from({ length: n }, (_, k) => `    total += ${k};`).join("\n");
  const heads = (src: string) => functionBlocks(src).map((f) => [f.line, f.head, f.lines]);

  test("a long arrow function, named by its header, measured from it to the closing brace", () => {
    const src = `const x = 1;\nexport const sum = async (xs: number[]): Promise<number> => {\n  let total = 0;\n${body(90)}\n  return total;\n};\n`;
    expect(heads(src)).toEqual([[2, "export const sum = async (xs: number[]): Promise<number> =>", 94]]);
  });

  test("a method, a constructor and a getter in a class; the class is not a function", () => {
    const src = `class Box {\n  private items: string[] = [];\n  constructor(readonly name: string) {\n    this.items = [];\n  }\n  get size(): number {\n    return 1;\n  }\n  private accept(stream: Stream): void {\n${body(3)}\n  }\n}\n`;
    expect(heads(src)).toEqual([
      [3, "constructor(readonly name: string)", 3],
      [6, "get size(): number", 3],
      [9, "private accept(stream: Stream): void", 5],
    ]);
  });

  test("a long if, for, while, switch, try or else block is not a function", () => {
    const blocks = ["if (x > 1)", "for (let i = 0; i < 3; i++)", "for (;;)", "while (running)", "switch (kind)", "try", "do"];
    for (const head of blocks) expect(heads(`function f(): void {\n  ${head} {\n${body(100)}\n  }\n}\n`)).toEqual([[1, "function f(): void", 104]]);
    const chain = `function g() {\n  if (a) {\n${body(90)}\n  } else if (b) {\n${body(90)}\n  } else {\n${body(90)}\n  }\n  try {\n  } catch (e) {\n${body(90)}\n  } finally {\n  }\n}\n`;
    expect(heads(chain)).toEqual([[1, "function g()", chain.split("\n").length - 1]]);
  });

  test("return types with braces, destructured parameters, callbacks and object methods", () => {
    const src = [
      "export function lex(src: string): { code: string; bare: string } {",
      "  return { code: src, bare: `${src}` };",
      "}",
      "function follow({ role, signedIn }: Session): void {",
      "  items.forEach((item, k) => {",
      "    use(item, k);",
      "  });",
      "  const o = { a: 1, run(n: number) {",
      "    return n;",
      "  } };",
      "}",
      "const opts = { key: \"function f() {\" };",
      "export function api(deps: Deps): Record<string, Route> {",
      "}",
    ].join("\n");
    expect(heads(src)).toEqual([
      [1, "export function lex(src: string): { code: string; bare: string }", 3],
      [5, "(item, k) =>", 3],
      [8, "run(n: number)", 3],
      [4, "function follow({ role, signedIn }: Session): void", 8],
      [13, "export function api(deps: Deps): Record<string, Route>", 2],
    ]);
  });

  test("a violation names the file, the line, the head and the length", () => {
    const src = `\n\nfunction long(a: number): number {\n${body(81)}\n}\n`;
    expect(oversize("src/agent/x.ts", src)).toEqual(["src/agent/x.ts:3: function long(a: number): number — 83 lines (over 80)"]);
    expect(oversize("src/agent/x.ts", `${"const a = 1;\n".repeat(401)}`)).toEqual(["src/agent/x.ts: 401 lines (over 400)"]);
    expect(oversize("src/agent/x.ts", `${"const a = 1;\n".repeat(400)}`)).toEqual([]);
  });
});
