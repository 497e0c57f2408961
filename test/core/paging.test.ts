/** Paging (src/core/views/paging.ts) as data: cursors from requests, pages cut by count and by bytes. */
import { describe, expect, test } from "bun:test";
import { compareKeys, type Cursor, isRejection, MAX_PAGE_SIZE, newestWithin, PAGE_BYTES, readCursor, type SortKey, takePage } from "../../src/core/views/paging.js";

const items = (names: string[], bytes = 10) => names.map((name) => ({ name, bytes }));
type Item = ReturnType<typeof items>[number];
const page = (records: Item[], cursor: Cursor, scope = "s") => takePage(records, cursor, scope, { keyOf: (r) => [r.name], render: (r) => r, sizeOf: (r) => r.bytes });
const cursorOf = (pageSize: number, pageToken = "", scope = "s"): Cursor => {
  const c = readCursor({ pageSize, pageToken }, scope);
  if (isRejection(c)) throw new Error(JSON.stringify(c));
  return c;
};

describe("compareKeys", () => {
  test.each<[SortKey, SortKey, number]>([
    [["a"], ["b"], -1],
    [["web", 2, "web-2.1"], ["web", 10, "web-10.1"], -1],
    [["web-a"], ["web"], 1],
    [["x", 1], ["x", 1], 0],
    [["x"], ["x", 0], -1],
  ])("%p vs %p", (a, b, sign) => expect(Math.sign(compareKeys(a, b))).toBe(sign));
});

describe("takePage", () => {
  test("sorts, takes page_size items, and a token that continues after the last", () => {
    const first = page(items(["c", "a", "d", "b"]), cursorOf(2));
    expect(first.items.map((i) => i.name)).toEqual(["a", "b"]);
    const second = page(items(["c", "a", "d", "b"]), cursorOf(2, first.nextPageToken));
    expect([second.items.map((i) => i.name), second.nextPageToken]).toEqual([["c", "d"], ""]);
  });

  test("stops at PAGE_BYTES, but always returns one item however large", () => {
    const big = PAGE_BYTES / 4 + 1;
    const cut = page(items(["a", "b", "c", "d", "e"], big), cursorOf(MAX_PAGE_SIZE));
    expect(cut.items.length).toBe(3);
    expect(cut.nextPageToken).not.toBe("");
    const huge = page(items(["a", "b"], PAGE_BYTES * 2), cursorOf(MAX_PAGE_SIZE));
    expect(huge.items.map((i) => i.name)).toEqual(["a"]);
  });

  test("a cursor counts the items returned before it", () => {
    const first = page(items(["a", "b", "c"]), cursorOf(1));
    const second = page(items(["a", "b", "c"]), cursorOf(1, first.nextPageToken));
    expect(cursorOf(1, second.nextPageToken)).toEqual({ returned: 2, after: ["b"], size: 1 });
  });
});

describe("readCursor", () => {
  const token = page(items(["a", "b"]), cursorOf(1)).nextPageToken;
  test.each<[string, number, string, string, string]>([
    ["a negative size", -1, "", "page_size", "s"],
    ["another scope's token", 1, token, "page_token", "other"],
    ["not base64", 1, "%%%", "page_token", "s"],
    ["base64 of JSON of another shape", 1, btoa('{"s":"s","k":[],"n":1}'), "page_token", "s"],
    ["a token cut short", 1, token.slice(0, -3), "page_token", "s"],
  ])("%s is refused naming %s", (_, pageSize, pageToken, field, scope) => {
    expect(readCursor({ pageSize, pageToken }, scope)).toMatchObject({ kind: "InvalidArgument", field });
  });

  test("0 is the default size; above the maximum is the maximum", () => {
    expect(cursorOf(0).size).toBe(500);
    expect(cursorOf(1_000_000).size).toBe(MAX_PAGE_SIZE);
  });
});

test("newestWithin keeps the newest items that fit, at least one", () => {
  const sized = [1, 2, 3, 4].map((n) => ({ n, bytes: PAGE_BYTES / 3 }));
  expect(newestWithin(sized, (x) => x.bytes).map((x) => x.n)).toEqual([2, 3, 4]);
  expect(newestWithin([{ n: 1, bytes: PAGE_BYTES * 3 }], (x) => x.bytes).map((x) => x.n)).toEqual([1]);
  expect(newestWithin([], () => 1)).toEqual([]);
});
