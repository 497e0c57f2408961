/**
 * A copy's host volumes on its agent: names resolve to this agent's own paths, which must exist,
 * or the copy cannot start, saying why; a process copy finds its volume at TESSERA_VOLUME_<NAME>
 * (in its args too), and so do its checks and the commands exec'd in it.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Running, StartRequest } from "../../src/agent/executor.js";
import { resolveMounts } from "../../src/agent/host-volumes.js";
import { ProcessExecutor } from "../../src/agent/process-executor.js";
import type { HostVolume } from "../../src/core/model/volumes.js";
import { type Volume, VolumeType } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { eventually } from "../e2e/harness.js";

const dirs: string[] = [];
const running: Running[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop(100)));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const volume = (name: string, over: Partial<Volume> = {}): Volume => ({ name, type: VolumeType.VOLUME_TYPE_UNSPECIFIED, mountPath: "", readOnly: false, source: "", sizeMb: 0, ...over });

describe("resolving a copy's volumes on its node", () => {
  const data = tempDir("tessera-hostvol-");
  test.each([
    ["a name the agent does not declare", [volume("data")], [] as HostVolume[], "host volume data is not declared on node-a"],
    ["a read-only host volume the copy would write to", [volume("data")], [{ name: "data", path: data, readOnly: true }], "host volume data is read-only on node-a, and the copy does not mount it read_only"],
    ["a declared path that does not exist", [volume("data")], [{ name: "data", path: "/nonexistent/tessera-data", readOnly: false }], "host volume data: /nonexistent/tessera-data does not exist on node-a"],
  ] as const)("refuses %s", (_what, volumes, declared, reason) => {
    expect(() => resolveMounts(spec({ volumes: [...volumes] }), declared, "node-a")).toThrow(reason);
  });

  test("a declared, existing path is what the copy gets: the agent's own, read-only or not", () => {
    expect(resolveMounts(spec({ volumes: [volume("data", { readOnly: true })] }), [{ name: "data", path: data, readOnly: true }], "node-a")).toEqual([
      { name: "data", kind: "host", mountPath: "", readOnly: true, source: data, sizeMb: 0 },
    ]);
  });
});

test("a process copy writes to its host volume through TESSERA_VOLUME_<NAME>; its checks and exec'd commands see the same", async () => {
  const data = tempDir("tessera-hostvol-data-");
  const executor = new ProcessExecutor(tempDir("tessera-hostvol-agent-"), "node-a");
  const s = spec({ command: "/bin/sh", args: ["-c", 'echo written > "$TESSERA_VOLUME_APP_DATA/out"; echo "$1" > "$TESSERA_VOLUME_APP_DATA/arg"; exec sleep 3600', "sh", "${TESSERA_VOLUME_APP_DATA}"], volumes: [volume("app-data")] });
  const req: StartRequest = { instanceId: "vol-0.1", name: "vol-0", workload: "vol", generation: 1, spec: s, ports: [], hostIp: "127.0.0.1", mounts: resolveMounts(s, [{ name: "app-data", path: data, readOnly: false }], "node-a") };
  running.push(await executor.start(req));
  expect(await eventually("the file on the host", () => readFileSync(join(data, "out"), "utf8") || undefined, 5_000)).toBe("written\n");
  expect(await eventually("the expanded argument", () => readFileSync(join(data, "arg"), "utf8") || undefined, 5_000)).toBe(`${data}\n`);

  const target = await executor.probeTarget(req);
  expect(await target.exec("/bin/sh", ["-c", `test "$TESSERA_VOLUME_APP_DATA" = "${data}"`], 2_000)).toBe(0);

  let out = "";
  const exec = await executor.exec({ instanceId: "vol-0.1", command: ["sh", "-c", 'echo "$TESSERA_VOLUME_APP_DATA"'], stdin: false, output: (_s, bytes) => (out += Buffer.from(bytes).toString()) });
  expect(await exec.exited).toEqual({ exitCode: 0, signal: null });
  expect(out).toBe(`${data}\n`);
});
