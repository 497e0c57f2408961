/**
 * `rollout history` and `rollout undo` through dist/tessera, as an operator runs them one after
 * another: a deleted workload's revisions are not the new one's of the same name (issue 25),
 * and an undo or a restart says so in the CAUSE column. A simulated agent runs the copies.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

/** `web` running `sleep SECONDS` in `replicas` copies, available once running (no 10 s default soak to wait out). */
function web(seconds: string, replicas: number): string {
  const file = join(h.dir, `web-${seconds}-${replicas}.json`);
  writeFileSync(file, JSON.stringify({ name: "web", spec: { command: "/bin/sleep", args: [seconds], replicas, update: { minHealthyTime: "0s" } } }));
  return file;
}

async function applied(file: string): Promise<void> {
  const r = await ctl("apply", "-f", file, "--wait", "--timeout", "20s");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

/** What web runs now: `sleep ARG × REPLICAS`. */
async function running(): Promise<string> {
  const d = JSON.parse((await ctl("describe", "workload", "web", "-o", "json")).stdout) as { workload: { spec: { args: string[]; replicas?: number } } };
  return `sleep ${d.workload.spec.args.join(" ")} × ${d.workload.spec.replicas ?? 1}`;
}

/** `rollout history web` as [REVISION, CAUSE] rows (TIME and OUTCOME left out). */
async function revisions(): Promise<string[][]> {
  const out = await ctl("rollout", "history", "web");
  expect(out.code).toBe(0);
  return out.stdout
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s{2,}/))
    .map(([revision, , cause]) => [revision!, cause!]);
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "node-a", "--simulated", "--data-dir", join(h.dir, "agent"), "--dns-listen", ""]);
    await eventually("node-a Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

test("apply, delete, apply again under the name: history and undo are the new workload's", async () => {
  await applied(web("1", 1));
  expect((await ctl("delete", "workload", "web")).code).toBe(0);
  await eventually("web gone", async () => ((await ctl("get", "workloads")).stdout.includes("web") ? undefined : true));
  await applied(web("2", 3));
  expect(await revisions()).toEqual([["1", "applied"]]);
  // Revision 1 is the new workload's own: what runs already, not the deleted 1 × sleep 1.
  expect((await ctl("rollout", "undo", "web", "--to-revision", "1")).code).toBe(0);
  expect(await running()).toBe("sleep 2 × 3");

  await applied(web("3", 3));
  expect((await ctl("rollout", "undo", "web", "--to-revision", "1")).code).toBe(0);
  expect(await running()).toBe("sleep 2 × 3");
  expect((await ctl("rollout", "undo", "web")).code).toBe(0);
  expect(await running()).toBe("sleep 3 × 3");
  expect((await ctl("rollout", "restart", "web")).code).toBe(0);
  expect(await revisions()).toEqual([
    ["1", "applied"],
    ["2", "applied"],
    ["3", "undo to revision 1"],
    ["4", "undo to revision 2"],
    ["4", "restart"],
  ]);
  expect((await ctl("rollout", "undo", "web", "--to-revision", "5")).stderr).toContain("has no revision 5 in the event log");
});
