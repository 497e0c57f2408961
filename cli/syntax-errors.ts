/**
 * Where a JSON or YAML text stops being valid, as line and column: Bun's parsers say only what
 * they expected ("JSON Parse error: Expected '}'"), never where. Read only once a parse failed,
 * with jsonc-parser (VS Code's, strict: no comments or trailing commas) and yaml.
 */
import type * as JsonC from "jsonc-parser";
import type * as Yaml from "yaml";

/** A syntax error at a 1-based line and column, and what was wrong there. */
export interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

/** The first error a YAML text has (a document of it), or undefined when there is none. */
export function yamlSyntaxProblem(text: string): SyntaxProblem | undefined {
  // Loaded only now, on a refused text: no ctl command pays for it otherwise.
  const { parseAllDocuments } = require("yaml") as typeof Yaml;
  const docs = parseAllDocuments(text);
  const error = (Array.isArray(docs) ? docs : [docs]).flatMap((d) => d.errors)[0];
  if (!error) return undefined;
  const at = error.linePos?.[0] ?? lineAndColumn(text, error.pos[0]);
  // Its message repeats the position and quotes the line: the first sentence is what is wrong.
  const message = error.message.split(/ at line \d+, column \d+/)[0]!.trim();
  return { line: at.line, column: "col" in at ? at.col : at.column, message };
}

/** What jsonc-parser's errors (by name) mean, as a person reads them; the rest keep their name. */
const JSON_EXPECTED: Record<string, string> = {
  PropertyNameExpected: "expected a property name in double quotes",
  ValueExpected: "expected a value",
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "," or "}"',
  CloseBracketExpected: 'expected "," or "]"',
  EndOfFileExpected: "expected the end of the text",
  InvalidSymbol: "expected a value",
  InvalidCommentToken: "comments are not JSON",
};

/** The first error of a JSON text (RFC 8259: no comments, no trailing commas), or undefined when there is none. */
export function jsonSyntaxProblem(text: string): SyntaxProblem | undefined {
  // Loaded only now, on a refused text: no ctl command pays for it otherwise.
  // Its ESM build: the UMD one (the package's main) requires its parts by computed paths, which a compiled binary cannot resolve.
  const { parse, printParseErrorCode } = require("jsonc-parser/lib/esm/main.js") as typeof JsonC;
  const errors: JsonC.ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first === undefined) return undefined;
  const found = first.offset >= text.length ? "the end" : JSON.stringify(text[first.offset]);
  const code = printParseErrorCode(first.error);
  return { ...lineAndColumn(text, first.offset), message: `${JSON_EXPECTED[code] ?? code}, found ${found}` };
}
