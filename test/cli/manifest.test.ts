/** Manifests as people write them: durations in Go's form, and syntax errors located. */
import { describe, expect, test } from "bun:test";
import { parseDocument, parseWorkload } from "../../cli/manifest.js";
import { jsonSyntaxProblem, yamlSyntaxProblem } from "../../cli/syntax-errors.js";
import type { InputError } from "../../cli/errors.js";

const withDeadline = (value: unknown) => parseWorkload({ name: "w", spec: { command: "/bin/true", progressDeadline: value } }, "w.json").spec!.progressDeadline;
const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (err) {
    return (err as InputError).message;
  }
  throw new Error("not refused");
};

describe("durations in manifests take Go's form, as the flags do", () => {
  test.each([
    ["1m", { seconds: 60, nanos: 0 }],
    ["1m30s", { seconds: 90, nanos: 0 }],
    ["500ms", { seconds: 0, nanos: 500_000_000 }],
    ["2h", { seconds: 7200, nanos: 0 }],
    ["60s", { seconds: 60, nanos: 0 }],
    ["0.25s", { seconds: 0, nanos: 250_000_000 }],
    [45, { seconds: 45, nanos: 0 }],
    ["45", { seconds: 45, nanos: 0 }],
  ])("%j", (written, read) => {
    expect(withDeadline(written)).toEqual(read);
  });

  test("nested and in lists, in YAML too", () => {
    const w = parseWorkload(Bun.YAML.parse("name: w\nspec:\n  command: /bin/true\n  update: {minHealthyTime: 1m}\n  checks: [{name: up, exec: {command: /bin/true}, interval: 500ms}]\n"), "w.yaml");
    expect(w.spec!.update!.minHealthyTime).toEqual({ seconds: 60, nanos: 0 });
    expect(w.spec!.checks[0]!.interval).toEqual({ seconds: 0, nanos: 500_000_000 });
  });

  test("a bad one names its field and the forms it takes, not google.protobuf.Duration", () => {
    const message = refusal(() => parseWorkload({ name: "w", spec: { command: "/bin/true", checks: [{ name: "up", exec: { command: "/bin/true" }, interval: "soon" }] } }, "w.json"));
    expect(message).toBe('w.json: spec.checks[0].interval: expected a duration like 500ms, 40s or 1m30s (a bare number is seconds), got "soon"');
    expect(refusal(() => withDeadline("1 minute"))).toContain("spec.progressDeadline: expected a duration like 500ms");
  });
});

describe("syntax errors give line and column", () => {
  test.each([
    ['{"name": "x",\n  "spec": {"command": "/bin/x",, }\n}', 2, 32, 'expected a property name in double quotes, found ","'],
    ['{"a": 1', 1, 8, 'expected "," or "}", found the end'],
    ['{"a": [1, 2,]}', 1, 13, 'expected a value, found "]"'],
    ['{"a": "x"} {', 1, 12, 'expected the end of the text, found "{"'],
  ])("JSON %j", (text, line, column, message) => {
    expect(jsonSyntaxProblem(text)).toEqual({ line, column, message });
    expect(() => JSON.parse(text)).toThrow();
  });

  test("valid JSON has none", () => {
    for (const text of ['{"a": [1, -2.5e3, "\\u00e9\\n", true, false, null, {}]}', " [] ", '"x"']) expect(jsonSyntaxProblem(text)).toBeUndefined();
  });

  test("YAML", () => {
    expect(yamlSyntaxProblem("name: x\nspec:\n  command: [/bin/x\n  args: 2\n")).toEqual({ line: 4, column: 3, message: "Flow sequence in block collection must be sufficiently indented and end with a ]" });
    expect(yamlSyntaxProblem("a:\n\t- b\n")?.line).toBe(2);
    expect(yamlSyntaxProblem("a: 1\n---\nb: [2]\n")).toBeUndefined();
  });

  test("a manifest's refusal names the file, the language, line and column; a YAML's never says JSON", () => {
    expect(refusal(() => parseDocument('{"a": 1', "w.json", "json"))).toBe('w.json: not valid JSON: line 1, column 8: expected "," or "}", found the end');
    expect(refusal(() => parseDocument("a:\n\t- b\n", "w.yaml", "yaml"))).toBe("w.yaml: not valid YAML: line 2, column 1: Tabs are not allowed as indentation");
    const schema = refusal(() => parseWorkload(Bun.YAML.parse("name: x\nspec:\n  command: /bin/x\n  replicas: many\n"), "w.yaml"));
    expect(schema).toBe('w.yaml: tessera.v1.WorkloadSpec.replicas: expected number (uint32), got "many"');
  });
});
