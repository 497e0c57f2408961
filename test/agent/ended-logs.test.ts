/** The ended copies' output an agent keeps, on real files in a temp dir: moved or written, cut to its bound, read back, pruned. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EndedLogs } from "../../src/agent/ended-logs.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tessera-ended-"));
  dirs.push(d);
  return d;
}

async function read(logs: EndedLogs, id: string, tail = 0): Promise<string[] | false> {
  const lines: string[] = [];
  return (await logs.read(id, tail, (l) => lines.push(...l))) ? lines : false;
}

const kept = (dir: string) => readdirSync(join(dir, "ended-logs")).sort();

test("a log file is moved in, stamped with its end, and read back whole or by its last lines", async () => {
  const dir = dataDir();
  const logs = new EndedLogs(dir);
  const file = join(dir, "w-0.1.log");
  writeFileSync(file, "one\ntwo\nthree, unfinished");
  logs.keepFile("w-0.1", file, 1_700_000_000_000);
  expect(readdirSync(dir)).not.toContain("w-0.1.log");
  expect(statSync(join(dir, "ended-logs", "w-0.1.log")).mtimeMs).toBe(1_700_000_000_000);
  expect(await read(logs, "w-0.1")).toEqual(["one", "two", "three, unfinished"]);
  expect(await read(logs, "w-0.1", 2)).toEqual(["two", "three, unfinished"]);
});

test("nothing is kept for a copy that left no log, and reading it says so", async () => {
  const dir = dataDir();
  const logs = new EndedLogs(dir);
  logs.keepFile("w-0.2", join(dir, "absent.log"), 1);
  expect(kept(dir)).toEqual([]);
  expect(await read(logs, "w-0.2")).toBe(false);
});

test.each([
  ["a moved file", (logs: EndedLogs, dir: string, text: string) => {
    writeFileSync(join(dir, "big.log"), text);
    logs.keepFile("w-0.3", join(dir, "big.log"), 1);
  }],
  ["output given whole", (logs: EndedLogs, _dir: string, text: string) => logs.keepOutput("w-0.3", Buffer.from(text), 1)],
])("%s larger than the bound keeps its end, from a line start", async (_, keep) => {
  const dir = dataDir();
  const logs = new EndedLogs(dir, 100);
  const lines = Array.from({ length: 30 }, (_, k) => `line ${String(k).padStart(2, "0")}`);
  keep(logs, dir, `${lines.join("\n")}\n`);
  const text = readFileSync(join(dir, "ended-logs", "w-0.3.log"), "utf8");
  expect(Buffer.byteLength(text)).toBeLessThanOrEqual(100);
  expect(text).toBe(`${lines.slice(-12).join("\n")}\n`);
});

test("each addition prunes to the retention: the newest per replica and per node stay", () => {
  const dir = dataDir();
  const logs = new EndedLogs(dir, 1024, { perReplica: 1, perNode: 2 });
  logs.keepOutput("web-0.1", Buffer.from("a\n"), 1_000);
  logs.keepOutput("web-0.2", Buffer.from("b\n"), 2_000);
  expect(kept(dir)).toEqual(["web-0.2.log"]);
  logs.keepOutput("web-1.3", Buffer.from("c\n"), 3_000);
  logs.keepOutput("api-0.4", Buffer.from("d\n"), 4_000);
  expect(kept(dir)).toEqual(["api-0.4.log", "web-1.3.log"]);
});

test("a write a crash cut short is dropped when the agent starts again", () => {
  const dir = dataDir();
  new EndedLogs(dir);
  writeFileSync(join(dir, "ended-logs", "w-0.5.log.tmp"), "half");
  new EndedLogs(dir);
  expect(kept(dir)).toEqual([]);
});
