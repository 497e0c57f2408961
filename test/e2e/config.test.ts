/** `--config FILE` (TOML) mirrors the flags of control and agent; flags win; bad keys are named. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema, type FlagTable } from "../../cli/flag-table.js";
import { AGENT_FLAGS, CONTROL_FLAGS } from "../../cli/server-flags.js";
import { E2E_TIMEOUT_MS, eventually, Harness, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const h = new Harness();
afterAll(() => h.stop());

test("control and agent read their settings from TOML", async () => {
  requireBinary();
  const controlToml = join(h.dir, "control.toml");
  writeFileSync(controlToml, `listen = "127.0.0.1:0"\ndata-dir = "${join(h.dir, "cp")}"\nplacement = "binpack"\noffline-after = "9s"\nmetrics-listen = ""\n`);
  const control = h.start(["control", "--config", controlToml]);
  const address = String((await control.waitForLog((l) => l.msg === "control plane listening")).address);
  expect((await control.waitForLog((l) => l.msg === "control plane listening")).dataDir).toBe(join(h.dir, "cp"));

  const agentToml = join(h.dir, "agent.toml");
  writeFileSync(agentToml, `control = ["${address}", "127.0.0.1:1"]\nname = "from-file"\nsimulated = true\nlabel = ["zone=z"]\ncpu-millis = "1500"\nhost-volume = ["data=${h.dir}:ro"]\n`);
  h.start(["agent", "--config", agentToml, "--name", "from-flag", "--data-dir", join(h.dir, "agent")], { TESSERA_DATA_DIR: join(h.dir, "cp") });
  const node = await eventually("the agent's node", async () => {
    const out = (await h.run(["ctl", "describe", "node", "from-flag"], { TESSERA_CONTROL: address, TESSERA_DATA_DIR: join(h.dir, "cp") })).stdout;
    return out.includes("Ready") ? out : undefined;
  });
  expect(node).toContain("Labels:      zone=z");
  expect(node).toContain("Capacity:    cpu 1500m");
  expect(node).toContain("Executors:   simulated");
  expect(node).toContain(`Volumes:     data=${h.dir}:ro`);
});

test("unknown keys and wrong types are refused with the key named", async () => {
  const bad = join(h.dir, "bad.toml");
  writeFileSync(bad, `lisen = "127.0.0.1:0"\n`);
  const res = await h.run(["control", "--config", bad]);
  expect(res.code).not.toBe(0);
  expect(res.stdout + res.stderr).toContain('unknown key "lisen"');
  writeFileSync(bad, `name = "x"\nsimulated = "yes"\n`);
  const res2 = await h.run(["agent", "--config", bad]);
  expect(res2.stdout + res2.stderr).toContain('"simulated" expected a boolean');
  // A value refused after reading is quoted as the file gave it.
  writeFileSync(bad, `name = "x"\nsimulated = true\nsim-failure-rate = "2"\n`);
  const res3 = await h.run(["agent", "--config", bad], { TESSERA_DATA_DIR: join(h.dir, "rate") });
  expect(res3.stderr).toContain('--sim-failure-rate: expected a number from 0 to 1, got "2"');
  // The cap on the fleet's heartbeats a second (#33): a whole number, at least one.
  for (const [value, said] of [["0", "expected 1 or more"], ["many", 'expected a whole number, got "many"']] as const) {
    const res4 = await h.run(["control", "--max-heartbeats-per-second", value, "--data-dir", join(h.dir, "cap")]);
    expect(res4.code).toBe(2);
    expect(res4.stderr).toContain(`--max-heartbeats-per-second: ${said}`);
  }
});

/** A config file giving every key of a command's table: `given`'s values, else a placeholder of the key's kind. */
function everyKey(table: FlagTable, given: Record<string, string>): string {
  const value = (key: string, kind: string) => given[key] ?? (kind === "boolean" ? "false" : kind === "string" ? '"x"' : '["x"]');
  return Object.entries(configSchema(table)).map(([key, kind]) => `${key} = ${value(key, kind)}\n`).join("");
}

test("config files take every key of the flag tables, and --help names each", async () => {
  requireBinary();
  const file = join(h.dir, "every.toml");
  // The file is read whole before any value is checked: a refused key would be named instead.
  writeFileSync(file, everyKey(CONTROL_FLAGS, { placement: '"nowhere"' }));
  expect((await h.run(["control", "--config", file])).stderr).toContain('--placement: expected spread or binpack, got "nowhere"');
  writeFileSync(file, everyKey(AGENT_FLAGS, { name: '""' }));
  expect((await h.run(["agent", "--config", file])).stderr).toContain("--name: required");
  for (const [command, table] of [["control", CONTROL_FLAGS], ["agent", AGENT_FLAGS]] as const) {
    const help = (await h.run([command, "--help"])).stdout;
    for (const key of Object.keys(configSchema(table))) expect(help).toContain(`  --${key} `);
  }
});
