/**
 * Periodic batches end to end through dist/tessera (issue 32), with a real process agent: a
 * batch `@every 3s` whose runs take 4 s, under `concurrency: forbid`, never has two runs at
 * once (each run writes when it starts and ends), its times in between are skipped, and `get
 * workloads` shows the last run, its outcome and the next time; `ctl run` starts one now; a
 * malformed schedule is refused naming the field.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

function manifest(body: { name: string; spec: object }): string {
  const file = join(h.dir, `${body.name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

type Listed = { name: string; spec?: { schedule?: string }; status?: { phase: string; lastRun?: string; lastRunOutcome?: string; nextRunTime?: string } };
async function workloads(): Promise<Listed[]> {
  const out = await ctl("get", "workloads", "-o", "json");
  expect(out.code).toBe(0);
  return (JSON.parse(out.stdout).workloads ?? []) as Listed[];
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "worker", "--data-dir", join(h.dir, "worker"), "--dns-listen", ""]);
    await eventually("worker Ready", async () => ((await ctl("get", "nodes")).stdout.match(/worker\s+Ready/) ? true : undefined));
  }),
);
afterAll(async () => {
  await ctl("delete", "workload", "tick");
  await h.stop();
});

test("@every 3s with concurrency forbid: runs of 4 s never overlap, get workloads shows the last run and the next; ctl run starts one now", async () => {
  const marks = join(h.dir, "marks");
  writeFileSync(marks, "");
  const script = `echo start $TESSERA_WORKLOAD >> ${marks}; sleep 4; echo end $TESSERA_WORKLOAD >> ${marks}`;
  const applied = await ctl("apply", "-f", manifest({ name: "tick", spec: { kind: "batch", command: "/bin/sh", args: ["-c", script], schedule: "@every 3s", concurrency: "forbid", keepRuns: 5 } }));
  expect(applied.stderr).toBe("");
  expect(applied.code).toBe(0);

  const complete = async () => (await workloads()).filter((w) => w.name.startsWith("tick-") && w.status?.phase === "Complete");
  await eventually("two runs complete", async () => ((await complete()).length >= 2 ? true : undefined), 25_000, 250);
  // Each run ended before the next began: the marks alternate, one run at a time.
  const lines = readFileSync(marks, "utf8").trim().split("\n");
  for (const [i, line] of lines.entries()) {
    const [what, run] = line.split(" ");
    expect(what).toBe(i % 2 === 0 ? "start" : "end");
    if (i % 2 === 1) expect(run).toBe(lines[i - 1]!.split(" ")[1]);
  }
  const history = await ctl("history", "tick");
  expect(history.stdout).toContain("(concurrency forbid)");

  const tick = (await workloads()).find((w) => w.name === "tick")!;
  expect(tick.status).toMatchObject({ phase: "Scheduled", lastRun: expect.stringMatching(/^tick-\d{8}-\d{6}$/) });
  expect(Date.parse(tick.status!.nextRunTime!) % 3_000).toBe(0);
  const table = await ctl("get", "workloads");
  expect(table.stdout).toMatch(/NAME\s+READY\s+STATUS.*LAST-RUN\s+OUTCOME\s+NEXT-RUN/);
  expect(table.stdout).toMatch(/tick\s+0\/0\s+Scheduled\s.*tick-\d{8}-\d{6}\s+(Running|Complete|Skipped)\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);

  const described = await ctl("describe", "workload", "tick");
  expect(described.stdout).toMatch(/Status: +Scheduled; last run tick-\d{8}-\d{6}: \w+.*; next \d{4}-/);

  const run = await ctl("run", "tick");
  expect(run.stderr).toBe("");
  const started = /^workload\/(tick-\d{8}-\d{6}-manual) started$/.exec(run.stdout.trim());
  expect(started).not.toBeNull();
  await eventually("the run by hand is listed", async () => ((await workloads()).some((w) => w.name === started![1]) ? true : undefined));
});

test("a malformed schedule is refused naming the field", async () => {
  const refused = await ctl("apply", "-f", manifest({ name: "bad", spec: { kind: "batch", command: "/bin/true", schedule: "0 25 * * *" } }));
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('workload.spec.schedule: expected hour: *, a value or a range of 0-23, got "25"');
  const notPeriodic = await ctl("run", "bad");
  expect(notPeriodic.code).not.toBe(0);
});
