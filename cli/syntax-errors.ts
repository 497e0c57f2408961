/**
 * Where a JSON or YAML text stops being valid, as line and column: Bun's parsers say only what
 * they expected ("JSON Parse error: Expected '}'"), never where. Read only once a parse failed.
 */
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

const WORDS = ["true", "false", "null"];
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/**
 * The first error of a JSON text (RFC 8259), or undefined when there is none: a small
 * recursive-descent reader that only finds where the text goes wrong.
 */
export function jsonSyntaxProblem(text: string): SyntaxProblem | undefined {
  let i = 0;
  const fail = (expected: string): never => {
    const found = i >= text.length ? "the end" : JSON.stringify(text[i]);
    throw Object.assign(lineAndColumn(text, i), { message: `expected ${expected}, found ${found}` });
  };
  const space = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const token = (re: RegExp) => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m) i += m[0].length;
    return m !== null;
  };
  const list = (close: string, item: () => void) => {
    i++;
    space();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      space();
      if (text[i] === close) return void i++;
      if (text[i] !== ",") fail(`"," or "${close}"`);
      i++;
      space();
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{")
      return list("}", () => {
        if (!token(STRING)) fail("a property name in double quotes");
        space();
        if (text[i] !== ":") fail('":"');
        i++;
        value();
      });
    if (c === "[") return list("]", value);
    if (token(STRING) || token(NUMBER)) return;
    const word = WORDS.find((w) => text.startsWith(w, i));
    if (word) i += word.length;
    else fail("a value");
  };
  try {
    value();
    space();
    if (i < text.length) fail("the end of the text");
    return undefined;
  } catch (problem) {
    if (problem instanceof Error) throw problem;
    return problem as SyntaxProblem;
  }
}
