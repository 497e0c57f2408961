/**
 * A small run of the containers benchmark, so it cannot rot: both sides reach their replicas
 * and clean up. No timing is asserted. Follows the Docker tests' convention (docker-engine.ts):
 * skipped with a message without an engine, a failure when TESSERA_CI=1.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { dockerSuite, sh } from "../e2e/docker-engine.js";
import { floorLabel, measureContainers, swarmLabel, tesseraLabel } from "./containers.js";

setDefaultTimeout(90_000);

const docker = dockerSuite("containers benchmark smoke");
const swarmState = () => sh(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]).out.trim();

test.skipIf(docker.skip)("containers benchmark, smoke size: 3 replicas on Tessera, on Swarm and on the engine alone, all removed afterwards", async () => {
  docker.require();
  const before = swarmState();
  const [run] = await measureContainers(3, 1);
  expect(run!.tessera.ms).toBeGreaterThan(0);
  expect(run!.swarm.ms).toBeGreaterThan(0);
  expect(run!.floor.ms).toBeGreaterThan(0);
  for (const label of [tesseraLabel(run!.tessera.name), swarmLabel(run!.swarm.name), floorLabel(run!.floor.name)]) expect(sh(["docker", "ps", "-a", "-q", "--filter", `label=${label}`]).out.trim()).toBe("");
  // Swarm mode is left only when the benchmark entered it.
  expect(swarmState()).toBe(before);
});
