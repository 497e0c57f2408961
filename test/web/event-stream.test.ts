/** The page's reading of a Server-Sent Events stream: messages up to the last blank line, the rest kept. */
import { expect, test } from "bun:test";
import { parseEvents } from "../../src/web/event-stream.js";

test.each([
  ["nothing complete yet", "event: change\ndata: {", [], undefined, "event: change\ndata: {"],
  ["named events, the rest kept", "retry: 1000\n\nevent: snapshot\ndata: {}\n\nevent: change\ndata: [1]\n\nevent: ch", [{ event: "snapshot", data: "{}" }, { event: "change", data: "[1]" }], 1000, "event: ch"],
  ["comments are skipped, data lines joined, unnamed is message", ": keep-alive\n\ndata: a\ndata:b\n\n", [{ event: "message", data: "a\nb" }], undefined, ""],
  ["a carriage return before the newline is dropped", "event: change\r\ndata: x\r\n\n", [{ event: "change", data: "x" }], undefined, ""],
] as const)("%s", (_, text, messages, retryMs, rest) => {
  expect(parseEvents(text)).toEqual({ messages: [...messages], retryMs, rest });
});
