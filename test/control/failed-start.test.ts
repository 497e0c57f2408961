/**
 * A start that fails after the writer began taking turns (here: the metrics port is taken)
 * stops everything it started before the store is closed: no turn runs on a closed database,
 * and the data dir can be started again at once.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { startControlPlane } from "../../src/control/lifecycle/server.js";
import type { Logger } from "../../src/shell/logger.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile/reconcile.js";
import { AgentGatewayClient } from "../../src/gen/tessera/v1/agent_gateway.js";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { NodeHealth } from "../../src/gen/tessera/v1/types.js";
import { eventually } from "../e2e/harness.js";
import { bareHello } from "./bare-hello.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-failed-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a control plane whose start fails leaves no writer running on the closed store", async () => {
  const errors: string[] = [];
  const log: Logger = { error: (msg, f) => errors.push(`${msg} ${JSON.stringify(f)}`), warn() {}, info() {}, debug() {}, with: () => log };
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on("uncaughtException", onUncaught);
  const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const tickMs = 20;
  // A node the store knows, so that the failed start's writer has something to decide (its
  // silence) and commit, were it left running.
  const first = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log, tickMs, insecure: true });
  const agents = new AgentGatewayClient(first.address, credentials.createInsecure());
  const stream = agents.connect();
  stream.on("error", () => {});
  stream.write(bareHello("n1"));
  const reader = new ControlPlaneClient(first.address, credentials.createInsecure());
  await eventually("n1 known", () => new Promise<true | undefined>((r) => reader.getNode({ name: "n1" }, (e) => r(e ? undefined : true))));
  reader.close();
  stream.end();
  agents.close();
  await first.stop();
  try {
    const hasty = { ...DEFAULT_POLICY, startGraceMs: 0, suspectAfterMs: 10, offlineAfterMs: 20 };
    await expect(startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log, tickMs, policy: hasty, insecure: true, metricsListen: `127.0.0.1:${taken.port}` })).rejects.toThrow();
    // The data dir is free at once. The new control plane runs the same policy on the same store,
    // started later than the failed one: once it has judged n1 Offline (and committed that), a
    // writer the failed start left running would have tried the same commit on its closed store.
    const again = await startControlPlane({ listen: "127.0.0.1:0", dataDir: dir, log, tickMs, policy: hasty, insecure: true });
    const watcher = new ControlPlaneClient(again.address, credentials.createInsecure());
    await eventually("n1 judged Offline by the new control plane", () =>
      new Promise<true | undefined>((r) => watcher.getNode({ name: "n1" }, (e, res) => r(!e && res.node?.health === NodeHealth.NODE_HEALTH_OFFLINE ? true : undefined))),
    );
    watcher.close();
    await again.stop();
    expect(uncaught).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    taken.stop(true);
    process.off("uncaughtException", onUncaught);
  }
});
