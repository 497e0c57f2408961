/**
 * Failure detection end to end: two agents, kill -9 one; once it is declared Offline its
 * instances run on the other. How fast is `make bench`'s to measure (failover); a test only
 * gives it a generous deadline, so that a slow machine does not fail it.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const OFFLINE_AFTER_MS = 5_000;
const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** Running instances per node, from `ctl get instances`. */
async function runningByNode(workload: string): Promise<Record<string, number>> {
  const out = (await ctl("get", "instances", workload)).stdout;
  const counts: Record<string, number> = {};
  for (const line of out.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[3] === "Running") counts[cols[4]!] = (counts[cols[4]!] ?? 0) + 1;
  }
  return counts;
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
  }),
);
afterAll(() => h.stop());

test("instances of a killed agent are declared Lost and run elsewhere", async () => {
  const a = h.start(["agent", "--control", address, "--name", "node-a", "--simulated"]);
  const b = h.start(["agent", "--control", address, "--name", "node-b", "--simulated"]);
  // Two enrollments and two streams: on a loaded machine this took over 10 s once (the agents' logs say why, should it fail).
  await h.explaining(() => eventually("both nodes Ready", async () => ((await ctl("get", "nodes")).stdout.match(/Ready/g)?.length === 2 ? true : undefined), 20_000));
  writeFileSync(join(h.dir, "fleet.json"), JSON.stringify({ name: "fleet", spec: { command: "/bin/sleep", args: ["3600"], replicas: 4 } }));
  expect((await ctl("apply", "-f", "fleet.json")).code).toBe(0);
  await eventually("4 Running over both nodes", async () => {
    const c = await runningByNode("fleet");
    return c["node-a"] === 2 && c["node-b"] === 2 ? c : undefined;
  });

  b.proc.kill("SIGKILL");
  await eventually(
    "all 4 Running on node-a",
    async () => {
      const c = await runningByNode("fleet");
      return c["node-a"] === 4 && c["node-b"] === undefined ? c : undefined;
    },
    OFFLINE_AFTER_MS + 15_000,
  );
  const nodes = (await ctl("get", "nodes")).stdout;
  expect(nodes).toMatch(/node-b\s+Offline/);
  const lost = (await ctl("get", "instances", "fleet")).stdout.split("\n").filter((l) => /\bLost\b/.test(l));
  expect(lost).toHaveLength(2);
  expect(a.proc.exitCode).toBeNull();
});

test("tessera replay re-runs the copied log; --what-if moves the Offline detection, and only what follows from it", async () => {
  // Applied within 30 s of node-b's loss: in a what-if with node-b Offline 30 s later, its
  // copies are created before the replacements and take other instance ids than in the log.
  writeFileSync(join(h.dir, "other.json"), JSON.stringify({ name: "other", spec: { command: "/bin/sleep", args: ["3600"], replicas: 2 } }));
  const other = await ctl("apply", "-f", "other.json", "--wait", "--timeout", "20s");
  expect(other.stderr).toBe("");
  expect(other.code).toBe(0);
  const copy = join(h.dir, "copy");
  cpSync(join(h.dir, "control"), copy, { recursive: true });
  const replay = await h.run(["replay", "--data-dir", copy]);
  expect(replay.stderr).toBe("");
  expect(replay.code).toBe(0);
  expect(replay.stdout).toContain("the log folds consistently");
  expect(replay.stdout).toMatch(/fleet-\d\.\d+ lose/);
  // The live log recorded the loss the replay found: exactly the two copies placed on node-b.
  const history = (await ctl("history", "fleet")).stdout.split("\n");
  // Rows are SEQ TIME EVENT SUMMARY, and an instance's summary starts with its id.
  const idsWith = (event: RegExp) => history.filter((l) => event.test(l)).map((l) => l.split(/\s+/)[3]).sort();
  expect(idsWith(/ lost: its node went offline$/)).toEqual(idsWith(/ placed on node-b$/));
  expect(idsWith(/ lost: its node went offline$/)).toHaveLength(2);
  const seq = (await h.run(["replay", "--data-dir", copy, "--json"])).stdout;
  expect(seq).toContain('"action":"markLost"');
  // Find the NodeHealthChanged to offline in the log and move it 30 s later.
  const db = new Database(join(copy, "tessera.db"), { readonly: true });
  const row = db.query<{ seq: number }, []>("SELECT seq FROM events WHERE type = 'NodeHealthChanged' AND data LIKE '%\"to\":\"offline\"%'").get();
  db.close();
  const whatIf = await h.run(["replay", "--data-dir", copy, "--what-if", `${row!.seq}=+30s`]);
  expect(whatIf.code).toBe(0);
  expect(whatIf.stdout).toContain(`what if event ${row!.seq} (NodeHealthChanged)`);
  expect(whatIf.stdout).toMatch(/\+ \S+ fleet-\d\.\d+ lose/);
  expect(whatIf.stdout).toMatch(/- \S+ fleet-\d\.\d+ lose/);
  // The same copies of other, whatever ids the what-if gave them: none of its decisions differ.
  expect(whatIf.stdout.split("\n").filter((l) => /^ {2}[+-] /.test(l) && l.includes("other"))).toEqual([]);
  expect(whatIf.stdout).toMatch(/only in the what-if, \d+ only as recorded/);
  const bad = await h.run(["replay", "--data-dir", copy, "--what-if", "1=soon"]);
  expect(bad.code).toBe(2);
  expect(bad.stdout + bad.stderr).toContain("--what-if: expected SEQ=+DURATION");
});
