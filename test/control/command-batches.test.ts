/**
 * What one turn sends one node: an agent whose hello set accepts_batches gets a turn's starts as
 * one ControlBatch, in order; an agent older than the field gets each start on its own. A real
 * control plane (in this process, plaintext) and two bare agent streams; and, as a property,
 * that batches keep every command in order and stay far below the message limit.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { BATCH_BYTES, carried } from "../../src/control/grpc/agent-commands.js";
import { ControlMessage } from "../../src/gen/tessera/v1/agent_gateway.js";
import { eventually } from "../e2e/harness.js";
import { spec } from "../core/fixtures.js";
import { plaintextCluster } from "./plaintext-cluster.js";

const cluster = plaintextCluster("command-batches");

/** A bare agent on node `node` (labelled tier=`node`) that records what it is sent. */
const agent = (node: string, acceptsBatches: boolean): ControlMessage[] => cluster.agent(node, { acceptsBatches }).received;

const apply = (name: string, tier: string) => cluster.apply(name, tier, 3);

/** The starts a node was sent, batches opened: [message index, instance id]. */
const starts = (received: ControlMessage[]) =>
  received.flatMap((m, i) => (m.command?.$case === "batch" ? m.command.value.messages : [m]).flatMap((c) => (c.command?.$case === "start" ? [[i, c.command.value.instanceId] as const] : [])));

test("a turn's three starts go to an agent that takes batches as one ControlBatch, and to an older agent one by one", async () => {
  const batching = agent("batching", true);
  const older = agent("older", false);
  await cluster.nodesKnown("batching", "older");
  await apply("on-batching", "batching");
  await apply("on-older", "older");
  await eventually("three starts each", async () => (starts(batching).length === 3 && starts(older).length === 3 ? true : undefined));
  const batched = starts(batching);
  expect(new Set(batched.map(([i]) => i)).size).toBe(1);
  const batch = batching[batched[0]![0]]!;
  expect(batch.commandId).toBe(0);
  // Each inside as it would come alone: its own id, in the order the turn made them.
  const inner = batch.command?.$case === "batch" ? batch.command.value.messages : [];
  expect(inner.map((m) => m.commandId)).toEqual([...inner.map((m) => m.commandId)].sort((a, b) => a - b));
  expect(inner.every((m) => m.commandId > 0)).toBe(true);
  expect(batched.map(([, id]) => id.replace(/\.\d+$/, ""))).toEqual(["on-batching-0", "on-batching-1", "on-batching-2"]);
  const alone = starts(older);
  expect(new Set(alone.map(([i]) => i)).size).toBe(3);
  expect(older.some((m) => m.command?.$case === "batch")).toBe(false);
});

/** A start whose spec carries `argBytes` of arguments and whose values `secretBytes`. */
const bigStart = (commandId: number, argBytes: number, secretBytes: number): ControlMessage => ({
  commandId,
  command: {
    $case: "start",
    value: { instanceId: `w-${commandId}.1`, name: `w-${commandId}`, workload: "w", generation: 1, spec: spec({ args: ["x".repeat(argBytes)] }), ports: [], hostIp: "", delivered: secretBytes > 0 ? [{ kind: "secret", name: "s", version: 1, data: { key: Buffer.alloc(secretBytes) } }] : [] },
  },
});

test("batches carry every command once, in order, a lone one as itself, none encoding past BATCH_BYTES unless it is one command", () => {
  const command = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 256 * 1024 }), fc.integer({ min: 0, max: 512 * 1024 })).map(([a, s]) => ({ kind: "start" as const, a, s })),
    fc.constant({ kind: "stop" as const, a: 0, s: 0 }),
  );
  fc.assert(
    fc.property(fc.array(command, { maxLength: 40 }), fc.boolean(), (commands, accepts) => {
      const messages = commands.map((c, i): ControlMessage => (c.kind === "stop" ? { commandId: i + 1, command: { $case: "stop", value: { instanceId: `w-${i}.1`, gracePeriodMs: 0, generation: 1 } } } : bigStart(i + 1, c.a, c.s)));
      const out = carried(messages, accepts);
      const opened = out.flatMap((m) => (m.command?.$case === "batch" ? m.command.value.messages : [m]));
      expect(opened).toEqual(messages);
      if (!accepts) expect(out).toEqual(messages);
      for (const m of out) {
        if (m.command?.$case !== "batch") continue;
        expect(m.command.value.messages.length).toBeGreaterThan(1);
        expect(ControlMessage.encode(m).finish().length).toBeLessThanOrEqual(BATCH_BYTES);
      }
    }),
    { numRuns: 60 },
  );
});
