/** The page's Server-Sent Events streams are bounded: a reader that stops reading is cut off, and what fed the stream is stopped. */
import { expect, test } from "bun:test";
import { sseResponse } from "../../src/control/http/sse.js";

test("a stream nobody reads closes past its bound and stops its source", async () => {
  let stopped = 0;
  let sent = 0;
  let send: ((data: unknown) => boolean) | undefined;
  const res = sseResponse((stream) => {
    send = (data) => stream.send("lines", data);
    return () => stopped++;
  });
  const line = "x".repeat(64 * 1024);
  // Nobody reads the body: everything queues until the bound.
  while (send!([line])) sent += line.length;
  expect(sent).toBeGreaterThanOrEqual(7 * 1024 * 1024);
  expect(sent).toBeLessThan(9 * 1024 * 1024);
  expect(stopped).toBe(1);
  expect(send!([line])).toBe(false);
  await res.body?.cancel();
  expect(stopped).toBe(1);
});
