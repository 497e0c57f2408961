/**
 * A node's host volumes in the store: kept with its row and restored on a restart (placement
 * after a restart judges nodes by them before their agents say hello again); a node whose
 * agent declared none (or predates them) has none.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../src/control/store/store.js";
import { DEFAULT_POLICY } from "../../src/core/reconcile.js";
import { runTurn } from "../../src/core/turn.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a node's host volumes survive a restart of the store; a node that declared none has none", () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-nodevol-"));
  dirs.push(dir);
  const store = new Store(dir);
  const state = store.load();
  const volumes = [
    { name: "data", path: "/srv/data", readOnly: false },
    { name: "logs", path: "/var/log", readOnly: true },
  ];
  const connect = (node: string, over: { volumes?: typeof volumes }) =>
    runTurn(state, [{ type: "AgentConnected", node, session: 1, executors: ["process"], version: "t", labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, instances: [], ...over }], { now: 1_000_000, policy: DEFAULT_POLICY, reconcile: false });
  store.commit(connect("a", { volumes }).events, state);
  store.commit(connect("b", {}).events, state);
  store.close();

  const restarted = new Store(dir);
  const nodes = restarted.load().nodes;
  expect(nodes.get("a")!.volumes).toEqual(volumes);
  expect(nodes.get("b")!.volumes).toEqual([]);
  restarted.close();
});
