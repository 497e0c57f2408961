/**
 * Reads TypeScript sources the way the architecture tests need them, without a parser: a
 * lexer that blanks comments (and string contents) while keeping every offset, and the
 * imports a file makes, static and dynamic, and the functions it defines. Shared by
 * purity.test.ts, boundaries.test.ts and sizes.test.ts.
 */

/**
 * Two views of a source, same length and same line breaks: `code` without comments (strings
 * kept, for import specifiers) and `bare` without comments or string contents (for names used
 * in code, so the string "process" or a comment about Date.now is not a breach).
 */
export function lex(src: string): { code: string; bare: string } {
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

/** One import (or re-export) of a source file. */
export interface Import {
  /** The specifier as written; empty when a dynamic import's argument is not a string literal. */
  spec: string;
  /** `import type` / `export type`: erased from the output, so it loads nothing at run time. */
  typeOnly: boolean;
  /** `import("x")` or `require("x")`. */
  dynamic: boolean;
  /** Offset of the `import` / `export` / `require` keyword in the source. */
  index: number;
}

const STATIC = [
  // import … from "x" / export … from "x" (also `import type`, `export type`, `export *`).
  /\b(?:import|export)\s+(type\s+)?[\w$*{}\s,]*?\s*from\s*["']([^"']+)["']/g,
  // import "x" (side effects only)
  /\bimport\s*()["']([^"']+)["']/g,
];
const DYNAMIC = /\b(?:import|require)\s*\(\s*(?:["']([^"']+)["']|(?=[^\s"']))/g;

/**
 * Every import in `src`, in source order. Matches start in code, not in a string or comment
 * (checked on `bare`); `import { type X }` counts as a value import, since only `import type`
 * is surely erased. A dynamic import of anything but a string literal yields spec "".
 */
export function readImports(src: string): Import[] {
  const { code, bare } = lex(src);
  const inCode = (index: number) => bare[index] !== " ";
  const out: Import[] = [];
  for (const re of STATIC) {
    for (const m of code.matchAll(re)) if (inCode(m.index!)) out.push({ spec: m[2]!, typeOnly: m[1] !== undefined && m[1] !== "", dynamic: false, index: m.index! });
  }
  for (const m of code.matchAll(DYNAMIC)) {
    // `import.meta` and method names such as `x.require(` are not imports.
    if (inCode(m.index!) && code[m.index! - 1] !== ".") out.push({ spec: m[1] ?? "", typeOnly: false, dynamic: true, index: m.index! });
  }
  return out.sort((a, b) => a.index - b.index);
}

export function lineOf(text: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

/** One function body: where its header starts, how many lines it spans, the header as written. */
export interface FunctionBlock {
  line: number;
  lines: number;
  head: string;
}

/**
 * Every function with a brace body in `src`, in order of its closing brace: a `{ … }` block whose
 * header (the text back to the statement, member or argument before it) ends in `=>`, or in `)`
 * with an optional return type. if/for/while/switch/catch/else/do/try blocks, classes,
 * interfaces, enums and namespaces are not functions; an arrow whose body is an expression
 * has no block and is not seen. Lengths run from the header's first line to the closing brace.
 */
export function functionBlocks(src: string): FunctionBlock[] {
  const { bare } = lex(src);
  const starts = lineStarts(bare);
  const lineAt = (index: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const out: FunctionBlock[] = [];
  const open: number[] = [];
  for (let i = 0; i < bare.length; i++) {
    if (bare[i] === "{") open.push(i);
    else if (bare[i] === "}" && open.length > 0) {
      const body = open.pop()!;
      const headStart = headerStart(bare, body);
      const head = bare.slice(headStart, body).replace(/\s+/g, " ").trim();
      if (!isFunctionHead(head)) continue;
      let first = headStart;
      while (/\s/.test(bare[first]!)) first++;
      const line = lineAt(first);
      out.push({ line, lines: lineAt(i) - line + 1, head });
    }
  }
  return out;
}

function lineStarts(text: string): number[] {
  const out = [0];
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) === 10) out.push(k + 1);
  return out;
}

/**
 * Where the header of the block opening at `body` starts: walking back over balanced
 * brackets (parameters, destructuring, an object return type, type arguments), up to the `;` `,` or bracket
 * that ends what came before. A `}` at the top level belongs to the header only while the
 * header is still empty or continues a type (`): { a: string } {`, `): Promise<{ … }> {`).
 */
function headerStart(bare: string, body: number): number {
  let depth = 0;
  // Type arguments at the top level (`): Record<string, Route> {`): their commas are the header's.
  let angles = 0;
  let j = body - 1;
  for (; j >= 0; j--) {
    const c = bare[j]!;
    if (depth === 0 && c === ">" && bare[j - 1] !== "=") angles++;
    else if (depth === 0 && c === "<") angles--;
    else if (c === ")" || c === "]") depth++;
    else if (c === "}") {
      if (depth === 0 && !/^\s*([>|&[=]|$)/.test(bare.slice(j + 1, body))) break;
      depth++;
    } else if (c === "(" || c === "[" || c === "{") {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && (c === ";" || (c === "," && angles <= 0))) break;
  }
  return j + 1;
}

const NOT_FUNCTIONS = /^(if|for|while|switch|catch|with|else|do|try|finally|case|default)\b|\b(class|interface|enum|namespace)\b/;

/** Whether a block's header (whitespace collapsed) is a function's. */
function isFunctionHead(head: string): boolean {
  // What is inside brackets says nothing about what the header is: fold each bracketed group,
  // innermost first, to one control character (\u0001 for a parenthesised one).
  let folded = head;
  for (let prev = ""; prev !== folded; ) {
    prev = folded;
    folded = folded.replace(/\([^()[\]{}]*\)/g, "\u0001").replace(/\[[^()[\]{}]*\]/g, "\u0002").replace(/\{[^()[\]{}]*\}/g, "\u0003");
  }
  if (NOT_FUNCTIONS.test(folded)) return false;
  return /=>$/.test(folded) || /\u0001(\s*:\s*[^?\s][^?]*)?$/.test(folded);
}
