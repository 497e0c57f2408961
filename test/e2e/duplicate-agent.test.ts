/**
 * Two agents started with one node's identity (a copied data dir, a cloned machine): the second
 * is refused while the first's stream is alive, instead of the two taking turns kicking each
 * other off. (A second agent with a data dir of its own is refused at enrollment: the name is
 * enrolled already, node-identity.test.ts.) Two agents on one data dir (the default one, say):
 * the second is refused while the first runs, and an agent never adopts the copies recorded
 * there for another node name; before, it adopted and stopped them.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, checkUntilHeard, E2E_TIMEOUT_MS, eventually, Harness, isAlive, recordedInstancePids, requireBinary, type Server } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let control: Server;
let address = "";
const agent = (dir: string) => h.start(["agent", "--control", address, "--name", "node-x", "--simulated", "--data-dir", join(h.dir, dir)]);
const connections = () => control.logs.filter((l) => l.msg === "agent connected" && l.node === "node-x").length;

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    ({ server: control, address } = await h.startControl());
  }),
);
afterAll(() => h.stop());

test("a second agent with a live node's name is refused, saying why; the first keeps its stream", async () => {
  const first = agent("first");
  await control.waitForLog((l) => l.msg === "agent connected" && l.node === "node-x");
  // As an operator copies a data dir: its owner's alone (an agent refuses one others can read).
  mkdirSync(join(h.dir, "second"), { mode: 0o700 });
  cpSync(join(h.dir, "first", "agent", "pki"), join(h.dir, "second", "agent", "pki"), { recursive: true });
  const second = agent("second");
  await second.waitForLog((l) => l.msg === "control plane stream lost; reconnecting" && /already has a live agent stream/.test(String(l.why)));
  // It keeps trying (the first may die); each try is refused while the first is heard.
  await eventually("three refusals of the second agent", () =>
    second.logs.filter((l) => /already has a live agent stream/.test(String(l.why))).length >= 3 ? true : undefined,
  );
  expect(connections()).toBe(1);
  expect(first.logs.filter((l) => l.msg === "control plane stream lost; reconnecting")).toEqual([]);

  // Once the first is gone, the name is free at once: its stream closed.
  first.proc.kill("SIGKILL");
  await eventually("the second agent connected", () => (connections() === 2 ? true : undefined));
  second.proc.kill("SIGTERM");
});

describe("two agents on one data dir", () => {
  const shared = () => join(h.dir, "shared");
  const processAgent = (name: string) => h.start(["agent", "--control", address, "--name", name, "--data-dir", shared(), "--dns-listen", "", "--label", "disk=shared"]);
  const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
  let first: Server;
  let pid = 0;
  let id = "";

  test("the second is refused naming the first's pid, host and start; the first's copies run on untouched", async () => {
    first = processAgent("node-a");
    await control.waitForLog((l) => l.msg === "agent connected" && l.node === "node-a");
    const file = join(h.dir, "keep.json");
    writeFileSync(file, JSON.stringify({ name: "keep", spec: { command: "/bin/sleep", args: ["3611"], nodeSelector: { disk: "shared" } } }));
    expect((await ctl("apply", "-f", file)).code).toBe(0);
    pid = await eventually("keep running on node-a", () => {
      const pids = recordedInstancePids(shared()).filter(isAlive);
      return pids.length === 1 ? pids[0] : undefined;
    });
    id = (await ctl("get", "instances", "keep")).stdout.match(/keep-0\.\d+/)![0];

    const proc = Bun.spawn([BINARY, "agent", "--control", address, "--name", "node-b", "--data-dir", shared(), "--dns-listen", ""], {
      cwd: h.dir,
      // As h.start would: the control plane's CA and join token are found in its data dir.
      env: { ...process.env, TESSERA_DATA_DIR: join(h.dir, "control") },
      stdout: "ignore",
      stderr: "pipe",
      timeout: 10_000,
      killSignal: "SIGKILL",
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    if (proc.signalCode !== null) throw new Error(`the second agent was not refused: still running after 10 s; stderr:\n${stderr}`);
    expect(code).toBe(1);
    expect(stderr).toContain(`error: data dir ${shared()} is in use by another agent (pid ${first.proc.pid} on `);
    expect(stderr).toMatch(/, started \d{4}-\d\d-\d\dT[\d:.]+Z\); stop it or use another --data-dir \(each agent on a host needs its own\)/);
    expect(isAlive(pid)).toBe(true);
    expect((await ctl("get", "instances", "keep")).stdout).toMatch(new RegExp(`${id.replace(".", "\\.")}\\s+Run\\s+Running\\s+node-a`));
  });

  test("an agent of another name on it (the first gone) leaves the copies recorded for the first alone", async () => {
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const second = processAgent("node-b");
    const left = await second.waitForLog((l) => l.msg === "left alone: a copy recorded for another node on this data dir");
    expect(left).toMatchObject({ instance: id, recordedFor: "node-a" });
    await checkUntilHeard(h, address, second, "node-b", () => expect(isAlive(pid)).toBe(true));
    expect(second.logs.filter((l) => l.msg === "adopted a running instance" || l.msg === "an instance ended while the agent was away")).toEqual([]);
  });
});
