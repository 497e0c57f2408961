/**
 * `tessera ctl` through the compiled binary: manifests in JSON and YAML (several per file, a
 * directory, stdin), every output format parsed back, --wait, exit codes, help and completion.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
let address = "";
const ctl = (...args: string[]) => h.run(["ctl", ...args], { TESSERA_CONTROL: address });
const write = (name: string, text: string) => {
  writeFileSync(join(h.dir, name), text);
  return join(h.dir, name);
};

beforeAll(() =>
  h.explaining(async () => {
    requireBinary();
    address = (await h.startControl()).address;
    h.start(["agent", "--control", address, "--name", "sim-1", "--simulated", "--cpu-millis", "2000", "--label", "tier=web"]);
    await eventually("sim-1 Ready", async () => ((await ctl("get", "nodes")).stdout.includes("Ready") ? true : undefined));
  }),
);
afterAll(() => h.stop());

describe("manifests", () => {
  test("multi-document YAML applies every workload and --wait follows the rollout", async () => {
    const file = write(
      "two.yaml",
      `name: alpha
spec:
  command: /bin/sleep
  args: ["3600"]
  replicas: 2
---
name: beta
labels: {team: core}
spec:
  command: /bin/sleep
  args: ["3600"]
  node_selector: {tier: web}
`,
    );
    const res = await ctl("apply", "-f", file, "--wait", "--timeout", "30s");
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("workload/alpha created (generation 1)");
    expect(res.stdout).toContain("workload/beta created (generation 1)");
    expect(res.stdout).toContain("rollout complete");
  });

  test("a directory of JSON and YAML files, and stdin", async () => {
    const dir = join(h.dir, "manifests");
    mkdirSync(dir);
    writeFileSync(join(dir, "a.json"), JSON.stringify([{ name: "gamma", spec: { command: "/bin/sleep" } }]));
    writeFileSync(join(dir, "b.yml"), "- name: delta\n  spec: {command: /bin/sleep}\n");
    writeFileSync(join(dir, "notes.txt"), "ignored");
    const res = await ctl("apply", "-f", dir);
    expect(res.stdout).toBe("workload/gamma created (generation 1)\nworkload/delta created (generation 1)\n");
    // One changed, one the same: each says what the apply did to it.
    writeFileSync(join(dir, "a.json"), JSON.stringify([{ name: "gamma", spec: { command: "/bin/sleep", args: ["1"] } }]));
    expect((await ctl("apply", "-f", dir)).stdout).toBe("workload/gamma configured (generation 2)\nworkload/delta unchanged (generation 1)\n");
    const proc = Bun.spawn([BINARY, "ctl", "apply", "-f", "-"], { stdin: "pipe", stdout: "pipe", env: { ...process.env, TESSERA_CONTROL: address, TESSERA_DATA_DIR: join(h.dir, "control") } });
    proc.stdin.write('{"name":"epsilon","spec":{"command":"/bin/sleep"}}');
    proc.stdin.end();
    expect(await new Response(proc.stdout).text()).toBe("workload/epsilon created (generation 1)\n");
    expect(await proc.exited).toBe(0);
  });

  test.each([
    ["invalid JSON", "bad.json", '{"name": "zeta", ', "bad.json: not valid JSON: line 1, column 18: expected a property name in double quotes, found the end"],
    ["invalid YAML", "bad.yaml", "name: zeta\nspec:\n\t- x\n", "bad.yaml: not valid YAML: line 3, column 1: Tabs are not allowed as indentation"],
    ["a bad duration", "late.yaml", "name: zeta\nspec: {command: /bin/sleep, progressDeadline: soon}\n", 'spec.progressDeadline: expected a duration like 500ms, 40s or 1m30s (a bare number is seconds), got "soon"'],
    ["an unknown field", "unknown.json", '{"name":"zeta","spec":{"command":"/bin/sleep","replica":2}}', 'key "replica" is unknown'],
    ["a wrong type", "type.yaml", "name: zeta\nspec:\n  command: /bin/sleep\n  replicas: many\n", "tessera.v1.WorkloadSpec.replicas"],
    ["a bad name", "name.json", '{"name":"Zeta!","spec":{"command":"/bin/sleep"}}', "workload.name: expected a DNS-1123 label"],
    ["a relative command", "cmd.json", '{"name":"zeta","spec":{"command":"sleep"}}', "workload.spec.command: expected an absolute path"],
  ])("%s is refused with exit 2, one clear line, and nothing applied", async (_, name, text, message) => {
    const good = '{"name":"eta","spec":{"command":"/bin/sleep"}}';
    const file = write(name, text);
    const dir = join(h.dir, `set-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "0-good.json"), good);
    writeFileSync(join(dir, `1-${name}`), text);
    for (const target of [file, dir]) {
      const res = await ctl("apply", "-f", target);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(message);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).not.toContain("    at ");
    }
    const names = (await ctl("get", "workloads")).stdout;
    expect(names).not.toMatch(/^(zeta|eta)\s/m);
  });

  test("apply says what it did: created, configured, labels only, unchanged", async () => {
    const said = async (doc: object) => (await ctl("apply", "-f", write("mu.json", JSON.stringify(doc)))).stdout;
    expect(await said({ name: "mu", spec: { command: "/bin/sleep" } })).toBe("workload/mu created (generation 1)\n");
    expect(await said({ name: "mu", labels: { team: "a" }, spec: { command: "/bin/sleep" } })).toBe("workload/mu configured (labels only; generation 1)\n");
    expect(await said({ name: "mu", labels: { team: "a" }, spec: { command: "/bin/sleep" } })).toBe("workload/mu unchanged (generation 1)\n");
    expect(await said({ name: "mu", labels: { team: "a" }, spec: { command: "/bin/sleep", replicas: 2 } })).toBe("workload/mu configured (generation 2)\n");
    expect((await ctl("delete", "workload", "mu")).code).toBe(0);
  });

  test("durations take Go's form, as flags do, and come back in proto3's", async () => {
    const res = await ctl("apply", "-f", write("go-durations.yaml", "name: lambda\nspec:\n  command: /bin/sleep\n  progressDeadline: 1m30s\n  stopGracePeriod: 500ms\n  update: {minHealthyTime: 1m}\n"));
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const spec = JSON.parse((await ctl("describe", "workload", "lambda", "-o", "json")).stdout).workload.spec as Record<string, unknown>;
    expect([spec.progressDeadline, spec.stopGracePeriod, (spec.update as Record<string, unknown>).minHealthyTime]).toEqual(["90s", "0.500s", "60s"]);
    expect((await ctl("delete", "workload", "lambda")).code).toBe(0);
  });

  test("enums may be spelled short, in any case, and come back as their proto names", async () => {
    const spec = { command: "/bin/sleep", restartPolicy: { mode: "on_failure" }, checks: [{ name: "alive", role: "Liveness", exec: { command: "/bin/true" } }] };
    const res = await ctl("apply", "-f", write("short.json", JSON.stringify({ name: "kappa", spec })));
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const listed = JSON.parse((await ctl("get", "workloads", "-o", "json")).stdout) as { workloads: Array<{ name: string; spec: { restartPolicy: { mode: string }; checks: Array<{ role: string }> } }> };
    const kappa = listed.workloads.find((w) => w.name === "kappa")!;
    expect(kappa.spec.restartPolicy.mode).toBe("RESTART_MODE_ON_FAILURE");
    expect(kappa.spec.checks[0]!.role).toBe("CHECK_ROLE_LIVENESS");
    const bad = await ctl("apply", "-f", write("bad-enum.yaml", "name: kappa\nspec: {command: /bin/sleep, restart_policy: {mode: sometimes}}\n"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('tessera.v1.RestartPolicy.mode: expected always, on_failure, never (or RESTART_MODE_ALWAYS, RESTART_MODE_ON_FAILURE, RESTART_MODE_NEVER), got "sometimes"');
    expect((await ctl("delete", "workload", "kappa")).code).toBe(0);
  });

  test("--wait fails with the reason when replicas cannot run; --timeout takes a bare number of seconds, and refuses what is no duration", async () => {
    const file = write("huge.json", JSON.stringify({ name: "huge", spec: { command: "/bin/sleep", resources: { cpuMillis: 64000 } } }));
    const res = await ctl("apply", "-f", file, "--wait", "--timeout", "2");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("rollout not complete after 2s (huge 0/1)");
    const bad = await ctl("apply", "-f", file, "--wait", "--timeout", "soon");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timeout: expected a duration like 500ms, 40s or 1m30s (a bare number is seconds), got "soon"');
    expect(res.stderr).toContain("no node fits (1 short of cpu)");
    expect((await ctl("delete", "workload", "huge")).code).toBe(0);
  });
});

describe("output formats", () => {
  test("-o json is the proto3 JSON of the response", async () => {
    const res = await ctl("get", "workloads", "-o", "json");
    const parsed = JSON.parse(res.stdout) as { workloads: Array<{ name: string; generation: string; spec: { replicas?: number }; status: { phase: string } }> };
    const alpha = parsed.workloads.find((w) => w.name === "alpha")!;
    expect(alpha.generation).toBe("1"); // uint64 is a string in proto3 JSON
    expect(alpha.spec.replicas).toBe(2);
    expect(alpha.status.phase).toBe("Running");
    const nodes = JSON.parse((await ctl("get", "nodes", "-o", "json")).stdout) as { nodes: Array<{ name: string; health: string; labels: Record<string, string> }> };
    expect(nodes.nodes[0]).toMatchObject({ name: "sim-1", health: "NODE_HEALTH_READY", labels: { tier: "web" } });
  });

  test("-o yaml parses back to the same document", async () => {
    const yaml = Bun.YAML.parse((await ctl("get", "instances", "alpha", "-o", "yaml")).stdout) as { instances: Array<{ name: string; observedState: string }> };
    const json = JSON.parse((await ctl("get", "instances", "alpha", "-o", "json")).stdout);
    expect(yaml).toEqual(json);
    expect(yaml.instances.map((i) => i.name).sort()).toEqual(["alpha-0", "alpha-1"]);
    expect(new Set(yaml.instances.map((i) => i.observedState))).toEqual(new Set(["INSTANCE_STATE_RUNNING"]));
  });

  test("describe and history: events as readable lines; -o json|yaml the response as proto3 JSON", async () => {
    const node = (await ctl("describe", "node", "sim-1")).stdout;
    expect(node).toMatch(/\nEvents:\n {2}TIME\s+TYPE\s+SUMMARY\n/);
    expect(node).toMatch(/^ {2}\S+Z\s+NodeConnected\s+sim-1 connected: /m);
    expect(node).toMatch(/^ {2}\S+Z\s+InstanceTransitioned\s+alpha-\d\.\d+ placed on sim-1$/m);
    const nodeDoc = JSON.parse((await ctl("describe", "node", "sim-1", "-o", "json")).stdout) as { node: { name: string }; events: Array<{ type: string; summary: string }> };
    expect(nodeDoc.node.name).toBe("sim-1");
    expect(nodeDoc.events.find((e) => e.type === "NodeConnected")?.summary).toStartWith("sim-1 connected: ");
    expect((Bun.YAML.parse((await ctl("describe", "node", "sim-1", "-o", "yaml")).stdout) as { node: { name: string } }).node.name).toBe("sim-1");

    const workload = JSON.parse((await ctl("describe", "workload", "alpha", "-o", "json")).stdout) as { workload: { name: string }; instances: unknown[]; events: Array<{ summary: string }> };
    expect(workload.workload.name).toBe("alpha");
    expect(workload.instances).toHaveLength(2);
    expect(workload.events.map((e) => e.summary)).toContainEqual(expect.stringMatching(/^alpha-\d\.\d+ running$/));

    const history = (await ctl("history", "alpha")).stdout.split("\n");
    expect(history[0]).toMatch(/^SEQ\s+TIME\s+EVENT\s+SUMMARY$/);
    expect(history).toContainEqual(expect.stringMatching(/^\d+\s+\S+Z\s+WorkloadApplied\s+alpha applied: generation 1, 2 replicas$/));
    const historyDoc = JSON.parse((await ctl("history", "alpha", "-o", "json")).stdout) as { events: Array<{ type: string; summary: string; detail: string }> };
    expect(historyDoc.events[0]).toMatchObject({ type: "WorkloadApplied", summary: "alpha applied: generation 1, 2 replicas" });
    expect(JSON.parse(historyDoc.events[0]!.detail)).toMatchObject({ workload: { name: "alpha" } });

    const bad = await ctl("describe", "node", "sim-1", "-o", "xml");
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'error: -o: expected text, json or yaml, got "xml"']);
  });

  test("table and wide", async () => {
    const table = (await ctl("get", "workloads")).stdout.split("\n");
    expect(table[0]).toMatch(/^NAME\s+READY\s+STATUS\s+GEN\s+UP-TO-DATE\s+NODES\s+AGE$/);
    expect(table.find((l) => l.startsWith("alpha "))).toMatch(/^alpha\s+2\/2\s+Running\s+1\s+2\s+sim-1\s+\d+s$/);
    const wide = (await ctl("get", "nodes", "-o", "wide")).stdout;
    expect(wide.split("\n")[0]).toMatch(/LABELS$/);
    expect(wide).toContain("tier=web");
  });

  test("--watch prints the table, then the rows that change", async () => {
    const proc = Bun.spawn([BINARY, "ctl", "get", "workloads", "--watch"], { stdout: "pipe", env: { ...process.env, TESSERA_CONTROL: address, TESSERA_DATA_DIR: join(h.dir, "control") } });
    const reader = proc.stdout.getReader();
    let seen = "";
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(seen)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`watch ended; saw:\n${seen}`);
        seen += new TextDecoder().decode(value);
      }
    };
    await readUntil(/^alpha\s/m);
    const file = write("theta.json", JSON.stringify({ name: "theta", spec: { command: "/bin/sleep" } }));
    expect((await ctl("apply", "-f", file)).code).toBe(0);
    await readUntil(/^theta\s+1\/1\s+Running/m);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    expect(seen.match(/^NAME\s/gm)).toHaveLength(1);
  });
});

describe("exit codes, help and completion", () => {
  test("unknown commands and bad flags exit 2; server failures exit 1", async () => {
    expect((await ctl("frobnicate")).code).toBe(2);
    expect((await ctl("get", "workloads", "-o", "xml")).code).toBe(2);
    const missing = await ctl("describe", "workload", "nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: NOT_FOUND: workload "nope" not found\n');
  });

  test("ctl's global flags work before, between or after the command's words", async () => {
    const token = readFileSync(join(h.dir, "control", "admin-token"), "utf8").trim();
    const ca = join(h.dir, "control", "pki", "ca.pem");
    const forms = [
      ["--token", token, "get", "nodes"],
      ["--ca-file", ca, "get", "nodes"],
      ["get", "--token", token, "nodes"],
      ["get", "nodes", "--ca-file", ca, "--token", token],
      ["--control", address, "--token", token, "--ca-file", ca, "get", "nodes"],
    ];
    for (const args of forms) {
      const res = await h.run(["ctl", ...args], { TESSERA_CONTROL: address });
      expect(res.stderr, args.join(" ")).toBe("");
      expect(res.stdout, args.join(" ")).toContain("sim-1");
    }
    // The flag is read, not dropped: a wrong token before the command is refused as such.
    const wrong = await ctl("--token", "not-a-token", "get", "nodes");
    expect(wrong.stderr).toContain("UNAUTHENTICATED");
    expect(wrong.code).toBe(1);
  });

  test("a missing -f says so; bare `ctl` prints its help; each suggestion is listed once", async () => {
    for (const command of ["apply", "plan"]) {
      const res = await ctl(command, "-o", "json");
      expect(res.stderr).toBe(`error: -f FILE is required; see \`tessera ctl ${command} --help\`\n`);
      expect(res.code).toBe(2);
    }
    const bare = await h.run(["ctl"]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toContain("tessera ctl apply");
    expect(bare.stdout).not.toContain("Command not found");
    const typo = await ctl("frobnicate");
    expect(typo.code).toBe(2);
    for (const usage of ["tessera ctl get workloads ", "tessera ctl get nodes ", "tessera ctl rollout pause "]) expect(typo.stderr.split(usage).length - 1, usage).toBe(1);
  });

  test("every command's --help has a description and an example", async () => {
    const help = (await h.run(["--help"])).stdout;
    const commands = [...help.matchAll(/^ {2}tessera ([a-z][a-z -]*?)(?: [[<]|$)/gm)].map((m) => m[1]!.trim());
    expect(commands.length).toBeGreaterThanOrEqual(20);
    for (const c of commands) {
      const one = await h.run([...c.split(" "), "--help"]);
      expect(one.stdout, c).toMatch(/\n\nExamples:?\n/);
      expect(one.stdout.split("\n")[0]!, c).toMatch(/^[A-Z]\S* \S/);
    }
  });

  test("a command group's --help lists that group's commands and exits 0", async () => {
    const ctlHelp = await h.run(["ctl", "--help"]);
    expect(ctlHelp.code).toBe(0);
    expect(ctlHelp.stdout).not.toContain("Command not found");
    for (const c of ["tessera ctl apply", "tessera ctl get workloads", "tessera ctl token rotate"]) expect(ctlHelp.stdout).toContain(c);
    expect(ctlHelp.stdout).toContain("create or update workloads from manifests");
    const getHelp = await h.run(["ctl", "get", "-h"]);
    expect(getHelp.code).toBe(0);
    expect(getHelp.stdout).toContain("tessera ctl get nodes");
    expect(getHelp.stdout).not.toContain("tessera ctl apply");
    const tokenHelp = await h.run(["ctl", "token", "--help"]);
    expect(tokenHelp.code).toBe(0);
    expect(tokenHelp.stdout).toContain("tessera ctl token create");
  });

  test("usage lines name what each flag's value is", async () => {
    const all = (await h.run(["--help"])).stdout;
    expect(all).not.toMatch(/#\d/);
    for (const shown of ["[--control ADDR]", "<-f,--file FILE>", "[--timeout DURATION]", "[--data-dir DIR]", "[--heartbeat DURATION]", "[-o,--output FORMAT]"]) expect(all).toContain(shown);
    const apply = (await h.run(["ctl", "apply", "--help"])).stdout;
    expect(apply).toMatch(/^ {2}--timeout DURATION {4}how long/m);
    expect(apply).toMatch(/^ {2}--wait {16}follow/m);
  });

  test("bash completion completes commands and flags", async () => {
    const script = (await h.run(["completion", "bash"])).stdout;
    const probe = Bun.spawnSync(["bash", "-c", `${script}\nCOMP_WORDS=(tessera ctl get ""); COMP_CWORD=3; _tessera; echo "\${COMPREPLY[*]}"`]);
    const words = probe.stdout.toString().trim().split(/\s+/);
    expect(words).toEqual(expect.arrayContaining(["workloads", "instances", "nodes"]));
  });

  test("no colours when piped", async () => {
    const res = await h.run(["--help"]);
    expect(res.stdout).not.toContain("\x1b[");
  });
});

describe("security from the command line", () => {
  test("token rotate and a read-only token", async () => {
    const joinFile = join(h.dir, "control", "join-token");
    const before = (await Bun.file(joinFile).text()).trim();
    const rotated = await ctl("token", "rotate", "join");
    expect(rotated.code).toBe(0);
    expect(rotated.stdout.trim()).not.toBe(before);
    expect((await Bun.file(joinFile).text()).trim()).toBe(rotated.stdout.trim());
    const ro = (await ctl("token", "create", "--read-only")).stdout.trim();
    expect((await ctl("get", "workloads", "--token", ro)).code).toBe(0);
    const denied = await ctl("delete", "workload", "alpha", "--token", ro);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe("error: PERMISSION_DENIED: a readonly token may not call DeleteWorkload\n");
    expect((await ctl("get", "workloads", "--token", "nope")).stderr).toContain("UNAUTHENTICATED");
  });

  test("plaintext is refused off loopback unless insisted on", async () => {
    const res = await h.run(["control", "--insecure", "--listen", "0.0.0.0:0", "--metrics-listen", "", "--data-dir", join(h.dir, "plain")]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("--insecure: 0.0.0.0:0 is not a loopback address");
  });
});
