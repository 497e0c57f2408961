import { expect, test } from "bun:test";
import { boundStderrTail, lastStderrLine, reasonWithStderr, STDERR_TAIL_BYTES, STDERR_TAIL_LINES } from "../../src/core/output/stderr-tail.js";

test.each([
  ["empty", "", ""],
  ["trailing newlines and blank lines go", "a\nb\n\n\n", "a\nb"],
  ["carriage returns go", "a\r\nb\r\n", "a\nb"],
])("%s", (_, text, tail) => {
  expect(boundStderrTail(text)).toBe(tail);
});

test("keeps the last lines only", () => {
  const lines = Array.from({ length: 50 }, (_, k) => `line ${k}`);
  expect(boundStderrTail(lines.join("\n"))).toBe(lines.slice(-STDERR_TAIL_LINES).join("\n"));
});

test("keeps the last bytes only, from a line start", () => {
  const lines = Array.from({ length: 10 }, (_, k) => `${k}`.repeat(300));
  const tail = boundStderrTail(lines.join("\n"));
  expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
  expect(tail).toBe(lines.slice(-6).join("\n"));
});

test("a single long line is cut at a character boundary", () => {
  const tail = boundStderrTail("é".repeat(STDERR_TAIL_BYTES));
  expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
  expect(tail).toMatch(/^é+$/);
});

test("the last line is what a reason quotes", () => {
  expect(lastStderrLine("a\nb")).toBe("b");
  expect(lastStderrLine("only")).toBe("only");
});

test.each([
  ["no tail: the reason alone", "exited with code 1", "", "exited with code 1"],
  ["a tail: its last line after the reason", "exited with code 1", "Traceback\nOSError: [Errno 98] Address already in use", "exited with code 1: OSError: [Errno 98] Address already in use"],
  ["no reason: the last line alone", "", "a\nb", "b"],
])("one line of a failure, %s", (_, reason, tail, line) => {
  expect(reasonWithStderr(reason, tail)).toBe(line);
});
