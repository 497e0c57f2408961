/**
 * Reads TypeScript sources the way the architecture tests need them, without a parser: a
 * lexer that blanks comments (and string contents) while keeping every offset, and the
 * imports a file makes, static and dynamic. Shared by purity.test.ts and boundaries.test.ts.
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
