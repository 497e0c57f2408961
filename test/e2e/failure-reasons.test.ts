/**
 * Why a copy failed, end to end: a copy that writes a line to stderr and exits 7 shows that
 * line and the code in `get instances` (one line), `describe workload` (the tail under the
 * instance, and the failure as a readable event line; -o json the same as data) and `history`
 * (the tail under the failure's row), for a process and for a container.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerSuite, ensureImage, IMAGE } from "./docker-engine.js";
import { eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(60_000);

const docker = dockerSuite("container failure reasons");
const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });

async function apply(body: object): Promise<void> {
  const file = join(h.dir, `${(body as { name: string }).name}.json`);
  writeFileSync(file, JSON.stringify(body));
  expect((await ctl("apply", "-f", file)).code).toBe(0);
}

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    const executors = docker.available ? "process,docker" : "process";
    h.start(["agent", "--control", address, "--name", "node-f", "--executor", executors, "--data-dir", join(h.dir, "agent")]);
    await eventually("node-f Ready", async () => ((await ctl("get", "nodes")).stdout.match(/node-f\s+Ready/) ? true : undefined));
  }),
);
afterAll(async () => {
  for (const w of ["crash", "crashbox"]) await ctl("delete", "workload", w);
  await h.stop();
});

/** Waits for the copy to fail, then checks what `get instances`, `describe` and `history` say. */
async function expectReason(workload: string, marker: string): Promise<void> {
  const line = await eventually(
    `${workload} failed, with its stderr`,
    async () => (await ctl("get", "instances", workload)).stdout.split("\n").find((l) => l.includes("exited with code 7")),
    20_000,
  );
  expect(line).toContain(`exited with code 7: ${marker}`);
  const id = line!.match(new RegExp(`${workload}-0\\.\\d+`))![0];
  const described = await ctl("describe", "workload", workload);
  expect(described.code).toBe(0);
  const tail = described.stdout.slice(described.stdout.indexOf("Last stderr of failed instances:"));
  expect(tail).toMatch(new RegExp(`${workload}-0 \\(${id}\\) stderr:\\n\\s+before\\n\\s+${marker}`));
  // The failure as an event line: time, type, then what happened to which copy.
  const events = described.stdout.slice(described.stdout.indexOf("Events:"));
  expect(events).toMatch(/^ {2}TIME\s+TYPE\s+SUMMARY$/m);
  expect(events).toMatch(new RegExp(`^  \\S+Z\\s+InstanceTransitioned\\s+${id} exited with code 7: ${marker}$`, "m"));
  expect(events).not.toContain('"type"');

  // The same, as data.
  const json = await ctl("describe", "workload", workload, "-o", "json");
  expect(json.code).toBe(0);
  const doc = JSON.parse(json.stdout) as { workload: { name: string }; instances: Array<{ id: string; stderrTail: string }>; events: Array<{ summary: string; detail: string }> };
  expect(doc.workload.name).toBe(workload);
  expect(doc.instances.find((i) => i.id === id)!.stderrTail).toBe(`before\n${marker}`);
  const failure = doc.events.find((e) => e.summary === `${id} exited with code 7: ${marker}`)!;
  expect(JSON.parse(failure.detail)).toMatchObject({ id, event: { type: "fail", exitCode: 7, stderrTail: `before\n${marker}` } });
  expect(Bun.YAML.parse((await ctl("describe", "workload", workload, "-o", "yaml")).stdout)).toEqual(doc);

  // history: the failure's row, the whole tail under it.
  const history = (await ctl("history", workload)).stdout;
  expect(history).toMatch(new RegExp(`InstanceTransitioned\\s+${id} exited with code 7: ${marker}\\n {4}\\| before\\n {4}\\| ${marker}\\n`));
}

test("a process that writes to stderr and exits 7 says so in get instances, describe and history", async () => {
  await apply({ name: "crash", spec: { command: "/bin/sh", args: ["-c", "echo out-line; echo before >&2; echo process-marker-42 >&2; exit 7"], restartPolicy: { mode: "RESTART_MODE_NEVER" } } });
  await expectReason("crash", "process-marker-42");
  // Both streams still reach the log.
  const logs = await ctl("logs", "crash");
  expect(logs.stdout).toContain("out-line");
  expect(logs.stdout).toContain("process-marker-42");
});

describe.skipIf(docker.skip)("containers", () => {
  test("a container that writes to stderr and exits 7 says so in get instances, describe and history", async () => {
    docker.require();
    ensureImage();
    await apply({ name: "crashbox", spec: { image: IMAGE, command: "/bin/sh", args: ["-c", "echo before >&2; echo container-marker-42 >&2; exit 7"], restartPolicy: { mode: "RESTART_MODE_NEVER" } } });
    await expectReason("crashbox", "container-marker-42");
  });
});
