/**
 * The supervisor renders a running copy's template configs again when the endpoints it holds
 * change (instance-supervisor.ts rerender): under on_change SIGNAL the copy gets SIGHUP, under
 * NONE nothing, under RESTART it is stopped and started again in place, the same copy, with
 * no failure reported; a copy whose files did not change is left alone.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Exit, Running } from "../../src/agent/executor.js";
import { InstanceSupervisor } from "../../src/agent/instance-supervisor.js";
import { SecretFiles } from "../../src/agent/secret-files.js";
import { SimulatedExecutor } from "../../src/agent/simulated-executor.js";
import type { Endpoint } from "../../src/core/views/endpoints.js";
import type { AgentMessage } from "../../src/gen/tessera/v1/agent_gateway.js";
import { OnChange } from "../../src/gen/tessera/v1/types.js";
import type { Logger } from "../../src/shell/logger.js";
import { spec } from "../core/fixtures.js";

const tmpfs = mkdtempSync(join(tmpdir(), "tessera-rerender-"));
afterAll(() => rmSync(tmpfs, { recursive: true, force: true }));
const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, with: () => silent };

/** A simulated executor that counts starts and records the signals its copies get. */
class CountingExecutor extends SimulatedExecutor {
  starts = 0;
  signals: string[] = [];
  override async start(): Promise<Running> {
    this.starts++;
    const { promise: exited, resolve } = Promise.withResolvers<Exit>();
    const signals = this.signals;
    return {
      exited,
      async stop() {
        resolve({ exitCode: 0, signal: null });
        return exited;
      },
      async signal(name) {
        signals.push(name);
      },
    };
  }
}

const db = (n: number): Endpoint => ({ workload: "db", instance: `db-${n}.1`, name: `db-${n}`, node: "n1", address: "10.0.0.1", portName: "pg", hostPort: 20000 + n, protocol: "tcp", ready: true });

test.each([
  ["signal", OnChange.ON_CHANGE_SIGNAL, { starts: 1, signals: ["SIGHUP"] }],
  ["none", OnChange.ON_CHANGE_NONE, { starts: 1, signals: [] }],
  ["restart", OnChange.ON_CHANGE_RESTART, { starts: 2, signals: [] }],
])("on_change %s: the file rendered again, and the copy treated so", async (_, onChange, after) => {
  const executor = new CountingExecutor();
  const reports: AgentMessage[] = [];
  let held = [db(0)];
  const files = new SecretFiles(`/data/${onChange}`, tmpfs);
  const supervisor = new InstanceSupervisor(executor, silent, (m) => reports.push(m), "n1", [], files, () => held);
  const id = `web-0.${onChange}`;
  const copy = spec({ configs: [{ name: "up", mountPath: "", template: true }], onChange });
  await supervisor.start({ instanceId: id, name: "web-0", workload: "web", generation: 1, spec: copy, ports: [], hostIp: "10.0.0.9", delivered: [{ kind: "config", name: "up", version: 1, data: { list: Buffer.from('{{ endpoints "db" }}') } }] });
  // What was asked of the copy before is done once a refresh chained after it is.
  const drained = () => supervisor.refresh({ instanceId: id, generation: 1, delivered: [], signal: "" });
  // The same endpoints again: nothing written, nothing done.
  supervisor.rerender();
  await drained();
  expect({ starts: executor.starts, signals: executor.signals }).toEqual({ starts: 1, signals: [] });
  held = [db(0), db(1)];
  supervisor.rerender();
  await drained();
  expect({ starts: executor.starts, signals: executor.signals }).toEqual(after);
  // Written already: rendering again changes nothing.
  expect(files.rerender(id, () => held)).toBeUndefined();
  expect(supervisor.holdings().map((h) => [h.instanceId, h.generation])).toEqual([[id, 1]]);
  const states = reports.flatMap((m) => (m.payload?.$case === "report" ? [m.payload.value.reason] : []));
  expect(states.filter((r) => r !== "")).toEqual([]);
});
