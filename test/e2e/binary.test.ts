/** dist/tessera stands alone: copied anywhere, run from any directory, no node_modules beside it. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json";
import { BINARY, E2E_TIMEOUT_MS, requireBinary } from "./harness.js";

setDefaultTimeout(E2E_TIMEOUT_MS);

const dir = mkdtempSync(join(tmpdir(), "tessera-bin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runCopy(args: string[]) {
  requireBinary();
  const copy = join(dir, "tessera");
  copyFileSync(BINARY, copy);
  const run = Bun.spawnSync([copy, ...args], { cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: dir } });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

test("a copy runs `version` from / with nothing beside it", () => {
  const res = runCopy(["version"]);
  expect(res.stdout).toBe(`tessera ${pkg.version}\n`);
  expect(res.code).toBe(0);
});

test("--help lists every mode", () => {
  const res = runCopy(["--help"]);
  for (const mode of ["tessera control", "tessera agent", "tessera dev", "tessera ctl apply", "tessera ctl get workloads", "tessera ctl get nodes", "tessera ctl describe workload", "tessera ctl delete workload", "tessera version"]) {
    expect(res.stdout).toContain(mode);
  }
});

test("the proto descriptor is embedded: a copy parses manifests strictly", () => {
  const manifest = join(dir, "w.json");
  writeFileSync(manifest, '{"name":"web","spec":{"command":"/bin/sleep","replicas":"two"}}');
  const res = runCopy(["ctl", "apply", "--insecure", "-f", manifest]);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain("tessera.v1.WorkloadSpec.replicas");
});
