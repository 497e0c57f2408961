/**
 * Workload kinds end to end through dist/tessera, with real process agents: a system workload
 * on the labelled nodes, and a node that joins with the label gets its copy; a batch that ends
 * Complete with exactly its completions, each run told its index (TESSERA_COMPLETION_INDEX) and
 * no TESSERA_ variable but those documented for it; a batch that always fails ends Failed after its
 * backoff limit, and `apply --wait` says so and exits non-zero.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(60_000);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

function agent(name: string, role: string): void {
  h.start(["agent", "--control", address, "--name", name, "--label", `role=${role}`, "--data-dir", join(h.dir, name), "--dns-listen", ""]);
}

async function ready(name: string): Promise<void> {
  await eventually(`${name} Ready`, async () => ((await ctl("get", "nodes")).stdout.match(new RegExp(`${name}\\s+Ready`)) ? true : undefined));
}

function manifest(body: object): string {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

/** Instances of a workload as `get instances -o json` lists them. */
async function instances(workload: string): Promise<Array<{ name: string; node: string; observedState: string; desiredState: string }>> {
  const out = await ctl("get", "instances", workload, "-o", "json");
  expect(out.code).toBe(0);
  return (JSON.parse(out.stdout).instances ?? []) as Array<{ name: string; node: string; observedState: string; desiredState: string }>;
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    agent("edge-a", "edge");
    agent("edge-b", "edge");
    agent("db-a", "db");
    for (const n of ["edge-a", "edge-b", "db-a"]) await ready(n);
  }),
);
afterAll(async () => {
  for (const w of ["logship", "etl", "broken"]) await ctl("delete", "workload", w);
  await h.stop();
});

test("a system workload runs on the 2 labelled nodes of 3; a third labelled node that joins gets its copy", async () => {
  const applied = await ctl("apply", "-f", manifest({ name: "logship", spec: { kind: "system", command: "/bin/sleep", args: ["3600"], nodeSelector: { role: "edge" } } }), "--wait", "--timeout", "30s");
  expect(applied.stderr).toBe("");
  expect(applied.code).toBe(0);
  const running = async () =>
    (await instances("logship"))
      .filter((i) => i.observedState === "INSTANCE_STATE_RUNNING")
      .map((i) => i.node)
      .sort();
  expect(await running()).toEqual(["edge-a", "edge-b"]);
  const listed = await ctl("get", "workloads", "-o", "wide");
  expect(listed.stdout).toMatch(/logship\s+2\/2\s+Running\s.*\sSystem\s/);

  agent("edge-c", "edge");
  await eventually("edge-c's copy running", async () => ((await running()).includes("edge-c") ? true : undefined), 20_000);
  expect(await running()).toEqual(["edge-a", "edge-b", "edge-c"]);
  expect((await instances("logship")).filter((i) => i.node === "db-a")).toEqual([]);
});

test("a batch with completions 3 and parallelism 2 ends Complete with exactly 3 successes", async () => {
  // Each run says which index it is, from its environment and from its args, and which TESSERA_ variables it sees.
  const script = 'sleep 0.3; echo done $TESSERA_INSTANCE index $TESSERA_COMPLETION_INDEX arg $1; echo $(env | grep ^TESSERA_ | cut -d= -f1 | sort)';
  const file = manifest({ name: "etl", spec: { kind: "batch", command: "/bin/sh", args: ["-c", script, "sh", "${TESSERA_COMPLETION_INDEX}"], completions: 3, parallelism: 2, nodeSelector: { role: "db" } } });
  const applied = await ctl("apply", "-f", file, "--wait", "--timeout", "40s");
  expect(applied.stderr).toBe("");
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain("rollout complete");
  const runs = await instances("etl");
  expect(runs.filter((i) => i.observedState === "INSTANCE_STATE_SUCCEEDED").map((i) => i.name).sort()).toEqual(["etl-0", "etl-1", "etl-2"]);
  expect(runs.filter((i) => i.observedState !== "INSTANCE_STATE_SUCCEEDED")).toEqual([]);
  expect((await ctl("get", "workloads", "-o", "wide")).stdout).toMatch(/etl\s+3\/3\s+Complete\s.*\sBatch\s/);
  const described = await ctl("describe", "workload", "etl");
  expect(described.stdout).toContain("Status:      Complete (3/3 succeeded, 0 failed, 0 running); complete: 3 of 3 succeeded");
  // Their output stays readable. The agent's own TESSERA_LOG and TESSERA_DATA_DIR (set by the
  // harness), and the shim's paths, are not among a copy's variables.
  expect((await ctl("logs", "etl", "--instance", "etl-1")).stdout).toBe("done etl-1 index 1 arg 1\nTESSERA_COMPLETION_INDEX TESSERA_HOST_IP TESSERA_INSTANCE TESSERA_INSTANCE_ID TESSERA_WORKLOAD\n");
});

test("a batch that always exits 3 ends Failed after backoffLimit retries; apply --wait exits non-zero with the reason", async () => {
  const file = manifest({
    name: "broken",
    spec: { kind: "batch", command: "/bin/sh", args: ["-c", "echo nope >&2; exit 3"], backoffLimit: 2, restartPolicy: { mode: "on_failure", initialBackoff: "0.2s", maxBackoff: "0.4s" } },
  });
  const applied = await ctl("apply", "-f", file, "--wait", "--timeout", "40s");
  expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 1, stderr: "error: broken failed: backoff limit 2 reached (3 failed runs): exited with code 3: nope\n" });
  const listed = JSON.parse((await ctl("get", "workloads", "-o", "json")).stdout) as { workloads: Array<{ name: string; status: { phase: string; failed: number } }> };
  expect(listed.workloads.find((w) => w.name === "broken")!.status).toMatchObject({ phase: "Failed", failed: 3 });
  const history = await ctl("history", "broken");
  expect(history.stdout).toContain("broken failed: backoff limit 2 reached");
  // Nothing runs any more.
  await eventually("no copy left running", async () => ((await instances("broken")).every((i) => i.desiredState === "DESIRED_STATE_STOP" || i.observedState !== "INSTANCE_STATE_RUNNING") ? true : undefined));
});
