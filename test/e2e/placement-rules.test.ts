/**
 * A workload's own placement rules end to end through dist/tessera, with real process agents:
 * a zone spread over 2+2 nodes puts one copy in each zone where the cluster's spread alone
 * would fill the first zone's nodes; 3 replicas with maxPerNode 1 on 2 nodes leave one Pending
 * with the reason, placed once a third node joins; a bad placement is refused naming the field.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

function agent(name: string, ...labels: string[]): void {
  h.start(["agent", "--control", address, "--name", name, ...labels.flatMap((l) => ["--label", l]), "--data-dir", join(h.dir, name), "--dns-listen", ""]);
}

async function ready(name: string): Promise<void> {
  await eventually(`${name} Ready`, async () => ((await ctl("get", "nodes")).stdout.match(new RegExp(`${name}\\s+Ready`)) ? true : undefined), 20_000);
}

function manifest(body: object): string {
  const file = join(h.dir, `${(body as { name: string }).name}.yaml`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

type Listed = { name: string; node: string; observedState: string; reason: string };
async function instances(workload: string): Promise<Listed[]> {
  const out = await ctl("get", "instances", workload, "-o", "json");
  expect(out.code).toBe(0);
  return (JSON.parse(out.stdout).instances ?? []) as Listed[];
}
const runningOn = async (workload: string) =>
  (await instances(workload))
    .filter((i) => i.observedState === "INSTANCE_STATE_RUNNING")
    .map((i) => i.node)
    .sort();

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    agent("a-1", "zone=a", "role=db");
    agent("a-2", "zone=a");
    agent("b-1", "zone=b", "role=db");
    agent("b-2", "zone=b");
    for (const n of ["a-1", "a-2", "b-1", "b-2"]) await ready(n);
  }),
);
afterAll(async () => {
  for (const w of ["web", "db"]) await ctl("delete", "workload", w);
  await h.stop();
});

test("a zone spread over 2+2 nodes: one copy per zone, then two", async () => {
  const web = (replicas: number) => manifest({ name: "web", spec: { command: "/bin/sleep", args: ["3600"], replicas, placement: { spread: [{ label: "zone" }] } } });
  const applied = await ctl("apply", "-f", web(2), "--wait", "--timeout", "30s");
  expect(applied.stderr).toBe("");
  expect(applied.code).toBe(0);
  // By name alone (the cluster's spread), a-1 and a-2 would take both.
  expect(await runningOn("web")).toEqual(["a-1", "b-1"]);
  expect((await ctl("apply", "-f", web(4), "--wait", "--timeout", "30s")).code).toBe(0);
  expect(await runningOn("web")).toEqual(["a-1", "a-2", "b-1", "b-2"]);
});

test("3 replicas with maxPerNode 1 on 2 nodes: one Pending with the reason, placed once a third node joins", async () => {
  const file = manifest({ name: "db", spec: { command: "/bin/sleep", args: ["3600"], replicas: 3, nodeSelector: { role: "db" }, placement: { maxPerNode: 1 } } });
  expect((await ctl("apply", "-f", file)).code).toBe(0);
  await eventually("2 copies of db running", async () => ((await runningOn("db")).length === 2 ? true : undefined), 20_000);
  const pending = (await instances("db")).filter((i) => i.observedState === "INSTANCE_STATE_PENDING");
  expect(pending.map((i) => i.reason)).toEqual(["no node fits (2 nodes already hold 1 copy of db (maxPerNode 1), 2 lacks label role=db)"]);
  const listed = await ctl("get", "instances", "db");
  expect(listed.stdout).toContain("2 nodes already hold 1 copy of db (maxPerNode 1)");

  agent("c-1", "zone=c", "role=db");
  await eventually("the third copy running on c-1", async () => ((await runningOn("db")).length === 3 ? true : undefined), 20_000);
  expect(await runningOn("db")).toEqual(["a-1", "b-1", "c-1"]);
});

test("a bad placement is refused naming the field and what it takes", async () => {
  const file = manifest({ name: "bad", spec: { command: "/bin/sleep", placement: { affinity: [{ label: "disk", value: "ssd", weight: 200 }], spread: [{ label: "zone", whenUnsatisfiable: "never" }] } } });
  const res = await ctl("apply", "-f", file);
  expect(res.code).not.toBe(0);
  expect(res.stderr).toContain('when_unsatisfiable: expected schedule, wait (or WHEN_UNSATISFIABLE_SCHEDULE, WHEN_UNSATISFIABLE_WAIT), got "never"');
  const weight = manifest({ name: "bad", spec: { command: "/bin/sleep", placement: { affinity: [{ label: "disk", value: "ssd", weight: 200 }] } } });
  const refused = await ctl("apply", "-f", weight);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain("workload.spec.placement.affinity[0].weight: expected from -100 to 100 (0: the default 50), got 200");
});
