/**
 * Template configs naming another workload's endpoints, through the compiled binary (#30):
 * `{{ endpoints "db" }}` is rendered by the agent, and rendered again when db scales: under
 * onChange signal the running copy's file is rewritten and it gets SIGHUP; under the default
 * (restart) the copy is restarted in place, the same copy to the control plane.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ address } = await h.startControl());
    h.start(["agent", "--control", address, "--name", "node-a", "--data-dir", join(h.dir, "agent")]);
    await eventually("node-a Ready", async () => ((await ctl(["get", "nodes"])).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

async function apply(manifest: object): Promise<void> {
  const file = join(h.dir, "manifest.json");
  writeFileSync(file, JSON.stringify(manifest));
  const applied = await ctl(["apply", "-f", file]);
  expect(applied.stderr).toBe("");
  expect(applied.code).toBe(0);
}

/** Prints its upstreams (one line) at its start and at each SIGHUP. */
const PRINT = 'u() { tr "\\n" " " < "$TESSERA_CONFIGS_DIR/upstreams/list"; }; trap \'echo "hup $(u)"\' HUP; echo "start $(u)"; while :; do sleep 0.2; done';
const db = (replicas: number) => ({ name: "db", spec: { command: "/bin/sh", args: ["-c", "while :; do sleep 1; done"], replicas, ports: [{ name: "pg" }], stopGracePeriod: "1s" } });
const reader = (name: string, onChange?: string) => ({ name, spec: { command: "/bin/sh", args: ["-c", PRINT], configs: [{ name: "upstreams", template: true }], stopGracePeriod: "1s", ...(onChange ? { onChange } : {}) } });

test("db scaled from 1 to 2: the signal copy's file gets the new line and SIGHUP, the restart copy starts again in place", async () => {
  expect((await ctl(["config", "create", "upstreams", "--from-literal", 'list={{ endpoints "db" "pg" }}'])).code).toBe(0);
  await apply(db(1));
  /** db's Ready endpoints as a template renders them: address:port in copy order. */
  const endpoints = (n: number) =>
    h.explaining(() =>
      eventually(`${n} Ready endpoints of db`, async () => {
        const listed = JSON.parse((await ctl(["get", "endpoints", "db", "-o", "json"])).stdout) as { endpoints?: Array<{ name: string; address: string; hostPort: number; ready: boolean }> };
        const ready = (listed.endpoints ?? []).filter((e) => e.ready).sort((a, b) => (a.name < b.name ? -1 : 1));
        return ready.length === n ? ready.map((e) => `${e.address}:${e.hostPort}`) : undefined;
      }, 15_000),
    );
  const [first] = await endpoints(1);
  await apply(reader("hup", "signal"));
  await apply(reader("again"));
  const printed = (name: string, want: RegExp) => h.explaining(() => eventually(`${name} prints ${want}`, async () => ((await ctl(["logs", name])).stdout.match(want) ? true : undefined), 15_000));
  await printed("hup", new RegExp(`^hup-0 \\| start ${first}$`, "m"));
  await printed("again", new RegExp(`^again-0 \\| start ${first}$`, "m"));
  const ids = async () => (await ctl(["get", "instances", "-o", "json"])).stdout.match(/"id": ?"(?:hup|again)-0\.\d+"/g)?.sort();
  const before = await ids();

  await apply(db(2));
  const both = await endpoints(2);
  const lines = both.join(" ");
  await printed("hup", new RegExp(`^hup-0 \\| hup ${lines}$`, "m"));
  await printed("again", new RegExp(`^again-0 \\| start ${lines}$`, "m"));
  expect(await ids()).toEqual(before);
});
