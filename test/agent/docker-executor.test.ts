/**
 * The Docker executor against a real engine: what an agent killed mid-start leaves (containers
 * created but never started) is reported as not started, not as a clean exit; what a container
 * printed stays readable once it is removed, whoever removed it.
 * Skipped without an engine, a failure in CI (TESSERA_CI=1).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { containerName, DockerExecutor } from "../../src/agent/docker-executor.js";
import { NoOutputRecorded } from "../../src/agent/executor.js";
import { WorkloadKind } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";
import { dockerSuite, ensureImage, IMAGE, sh } from "../e2e/docker-engine.js";

setDefaultTimeout(30_000);

const engine = dockerSuite("docker executor");

describe.skipIf(engine.skip)("docker executor", () => {
  const docker = new Docker();
  const node = `adopt-test-${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-docker-"));
  const executor = new DockerExecutor(node, dataDir, docker);
  /** Everything readLogs sends for a copy, not following. */
  const output = async (instanceId: string) => {
    const lines: string[] = [];
    await executor.readLogs({ instanceId, tail: 0, follow: false, signal: new AbortController().signal, emit: (l) => lines.push(...l) });
    return lines;
  };
  const leftovers = () => sh(["docker", "ps", "-a", "-q", "--filter", `label=tessera.node=${node}`]).out.trim().split("\n").filter(Boolean);
  /** A container labelled as the executor labels its own. */
  const create = (instanceId: string, cmd: string[]) =>
    docker.createContainer({
      name: containerName(instanceId),
      Image: IMAGE,
      Cmd: cmd,
      Labels: { "tessera.node": node, "tessera.workload": "w", "tessera.instance": instanceId, "tessera.name": "w-0", "tessera.generation": "2" },
    });

  beforeAll(() => {
    engine.require();
    ensureImage();
  });
  afterAll(() => {
    const ids = leftovers();
    if (ids.length > 0) sh(["docker", "rm", "-f", ...ids]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("created and never started: reported not started (no exit code) and removed; exited: its code; running: adopted", async () => {
    await create(`w-0.${process.pid}1`, ["/bin/true"]);
    const exited = await create(`w-0.${process.pid}2`, ["/bin/sh", "-c", "echo printed before exit 3; exit 3"]);
    await exited.start();
    await exited.wait();
    const running = await create(`w-0.${process.pid}3`, ["/bin/sleep", "3600"]);
    await running.start();

    const adopted = await executor.adopt();
    const byId = new Map(adopted.map((a) => [a.instanceId, a]));
    expect(byId.get(`w-0.${process.pid}1`)).toEqual({ instanceId: `w-0.${process.pid}1`, generation: 2, exit: { exitCode: null, signal: "unknown (not started: the agent stopped between create and start)" } });
    expect(byId.get(`w-0.${process.pid}2`)).toEqual({ instanceId: `w-0.${process.pid}2`, generation: 2, exit: { exitCode: 3, signal: null, stderrTail: "" } });
    const live = byId.get(`w-0.${process.pid}3`)!;
    expect(live.exit).toBeUndefined();
    expect(leftovers()).toHaveLength(1);
    // The exited one was removed; what it printed was copied out first.
    expect(await output(`w-0.${process.pid}2`)).toEqual(["printed before exit 3"]);
    await live.running!.stop(1000);
    expect(leftovers()).toHaveLength(0);
  });

  test("a container's output is readable after it exited and stop removed it, both streams", async () => {
    const instanceId = `w-1.${process.pid}4`;
    const running = await executor.start({
      instanceId,
      name: "w-1",
      workload: "w",
      generation: 1,
      spec: spec({ image: IMAGE, command: "/bin/sh", args: ["-c", "echo to stdout; echo to stderr >&2; exit 7"] }),
      ports: [],
      mounts: [],
      hostIp: "127.0.0.1",
    });
    expect((await running.exited).exitCode).toBe(7);
    await running.stop(1000);
    expect(sh(["docker", "ps", "-a", "-q", "--filter", `name=${containerName(instanceId)}`]).out.trim()).toBe("");
    // The engine copies the two streams separately: their lines may interleave either way.
    expect((await output(instanceId)).sort()).toEqual(["to stderr", "to stdout"]);
  });

  test("a batch container is told its completion index, and no TESSERA_ variable but those documented", async () => {
    const instanceId = `job-2.${process.pid}6`;
    const running = await executor.start({
      instanceId,
      name: "job-2",
      workload: "job",
      generation: 1,
      spec: spec({ kind: WorkloadKind.WORKLOAD_KIND_BATCH, image: IMAGE, command: "/bin/sh", args: ["-c", "env | grep ^TESSERA_ | sort"] }),
      ports: [],
      mounts: [],
      hostIp: "127.0.0.1",
    });
    expect((await running.exited).exitCode).toBe(0);
    await running.stop(1000);
    expect(await output(instanceId)).toEqual(["TESSERA_COMPLETION_INDEX=2", "TESSERA_HOST_IP=127.0.0.1", "TESSERA_INSTANCE=job-2", `TESSERA_INSTANCE_ID=${instanceId}`, "TESSERA_WORKLOAD=job"]);
  });

  test("a container never seen and not kept: the error says so", async () => {
    const id = `w-2.${process.pid}5`;
    await expect(output(id)).rejects.toThrow(new NoOutputRecorded(id, "no container of it here, and none of its output kept"));
  });
});
