/**
 * The Docker executor's adoption against a real engine: what an agent killed mid-start leaves
 * (containers created but never started) is reported as not started, not as a clean exit.
 * Skipped without an engine, a failure in CI (TESSERA_REQUIRE_DOCKER=1).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import Docker from "dockerode";
import { containerName, DockerExecutor } from "../../src/agent/docker-executor.js";
import { dockerSuite, ensureImage, IMAGE, sh } from "../e2e/docker-engine.js";

setDefaultTimeout(30_000);

const { available, skip } = dockerSuite("docker executor adoption");

describe.skipIf(skip)("docker executor adoption", () => {
  const docker = new Docker();
  const node = `adopt-test-${process.pid}`;
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
    expect(available, "TESSERA_REQUIRE_DOCKER=1 but no Docker engine answers").toBe(true);
    ensureImage();
  });
  afterAll(() => {
    const ids = leftovers();
    if (ids.length > 0) sh(["docker", "rm", "-f", ...ids]);
  });

  test("created and never started: reported not started (no exit code) and removed; exited: its code; running: adopted", async () => {
    await create(`w-0.${process.pid}1`, ["/bin/true"]);
    const exited = await create(`w-0.${process.pid}2`, ["/bin/sh", "-c", "exit 3"]);
    await exited.start();
    await exited.wait();
    const running = await create(`w-0.${process.pid}3`, ["/bin/sleep", "3600"]);
    await running.start();

    const adopted = await new DockerExecutor(node, docker).adopt();
    const byId = new Map(adopted.map((a) => [a.instanceId, a]));
    expect(byId.get(`w-0.${process.pid}1`)).toEqual({ instanceId: `w-0.${process.pid}1`, generation: 2, exit: { exitCode: null, signal: "unknown (not started: the agent stopped between create and start)" } });
    expect(byId.get(`w-0.${process.pid}2`)).toEqual({ instanceId: `w-0.${process.pid}2`, generation: 2, exit: { exitCode: 3, signal: null, stderrTail: "" } });
    const live = byId.get(`w-0.${process.pid}3`)!;
    expect(live.exit).toBeUndefined();
    expect(leftovers()).toHaveLength(1);
    await live.running!.stop(1000);
    expect(leftovers()).toHaveLength(0);
  });
});
