/**
 * Rooms of src/core that import one another without a circle: no chain of imports (types
 * included) from a file in them leads back to that file. A circle there meant a decider's
 * types came from the file that dispatches to it, and the event types from the file that
 * applies them (issue 28); a room listed here stays free of circles, and more may join it.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { readImports } from "./source-scan.js";

const ROOT = resolve(import.meta.dir, "..", "..");

/** Rooms no import circle may pass through. */
const WITHOUT_CIRCLES = ["src/core/decide/", "src/core/events/", "src/core/access/"];

/** Each file under src/core (relative to the root) and the src/core files it imports. */
function coreGraph(): Map<string, string[]> {
  const files = readdirSync(join(ROOT, "src/core"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => `src/core/${f.split(sep).join("/")}`);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = readImports(readFileSync(join(ROOT, file), "utf8"))
      .filter((i) => i.spec.startsWith("."))
      .map((i) => relative(ROOT, resolve(ROOT, dirname(file), i.spec)).split(sep).join("/").replace(/\.js$/, ".ts"))
      .filter((t) => files.includes(t));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** A circle of imports from `start` back to it (the files in order), or undefined. */
function circleFrom(graph: Map<string, string[]>, start: string): string[] | undefined {
  const seen = new Set<string>();
  const walk = (file: string, path: string[]): string[] | undefined => {
    for (const next of graph.get(file) ?? []) {
      if (next === start) return [...path, start];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}

describe("import circles", () => {
  const graph = coreGraph();
  const inRooms = [...graph.keys()].filter((f) => WITHOUT_CIRCLES.some((room) => f.startsWith(room))).sort();

  test("the scan sees the rooms", () => {
    for (const room of WITHOUT_CIRCLES) expect(inRooms.some((f) => f.startsWith(room))).toBe(true);
    expect(inRooms).toContain("src/core/decide/decide.ts");
  });

  test.each(inRooms.map((f) => [f]))("no circle through %s", (file) => {
    expect(circleFrom(graph, file)?.join(" → ")).toBeUndefined();
  });

  test("the search finds a circle and names its files in order", () => {
    const circle = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts", "d.ts"]],
      ["d.ts", []],
    ]);
    expect(circleFrom(circle, "a.ts")).toEqual(["a.ts", "b.ts", "c.ts", "a.ts"]);
    expect(circleFrom(circle, "d.ts")).toBeUndefined();
  });
});
