/**
 * The day-two model test's vocabulary (day-two.test.ts): the operations it draws, the specs it
 * applies (each with a token naming it and a behaviour: good, crashing at start, never Ready),
 * and the small model of what the operator asked that the control plane is checked against.
 */
import fc from "fast-check";
import type { Instance } from "../../src/core/model/cluster-state.js";
import { isReady } from "../../src/core/model/cluster-status.js";
import type { FleetNode } from "../../src/sim/simulated-fleet.js";
import type { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { spec } from "../core/fixtures.js";

export type Behaviour = "good" | "crash" | "unready";
export const NAMES = ["web", "db"] as const;
const ZONES = { "node-0": "a", "node-1": "a", "node-2": "b", "node-3": "b" } as const;
const node = (name: keyof typeof ZONES): FleetNode => ({
  name,
  capacity: { cpuMillis: 64_000, memoryMb: 65_536 },
  labels: { zone: ZONES[name] },
  ports: { address: `10.0.0.${name.slice(-1)}`, range: { from: 20000, to: 20999 }, reserved: [] },
});
export const FIRST_NODES = [node("node-0"), node("node-1"), node("node-2")];
export const SECOND_AGENT = node("node-3");
const WAVES = [{ nodeSelector: { zone: "a" } }, { nodeSelector: { zone: "b" } }];
const CHECK = { name: "ready", role: 1, interval: undefined, timeout: undefined, initialDelay: undefined, successThreshold: 0, failureThreshold: 0, probe: { $case: "tcp" as const, value: { port: 8080, portName: "" } } };

const variantArb = fc
  .record({
    behaviour: fc.constantFrom<Behaviour>("good", "good", "crash", "unready"),
    replicas: fc.integer({ min: 1, max: 3 }),
    maxSurge: fc.integer({ min: 0, max: 1 }),
    maxUnavailable: fc.integer({ min: 0, max: 1 }),
    canary: fc.constantFrom(0, 0, 1),
    autoPromote: fc.boolean(),
    autoRevert: fc.boolean(),
    /** min_healthy_time in seconds; unset: the default (10 s without readiness checks). */
    soakS: fc.constantFrom<number | undefined>(undefined, undefined, 0, 3),
    waves: fc.boolean(),
    checks: fc.boolean(),
  })
  .filter((v) => v.maxSurge + v.maxUnavailable > 0);
type Variant = typeof variantArb extends fc.Arbitrary<infer T> ? T : never;

const workloadArb = fc.integer({ min: 0, max: NAMES.length - 1 });
const nodeArb = fc.integer({ min: 0, max: 2 });
export const opArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("apply" as const), w: workloadArb, v: variantArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), w: workloadArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("undo" as const), w: workloadArb, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("restart" as const, "promote" as const, "pause" as const, "resume" as const), w: workloadArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom("cordon" as const, "uncordon" as const, "drain" as const, "agent-restart" as const), n: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("second-agent" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("control-restart" as const), downMs: fc.integer({ min: 500, max: 8_000 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 1_000, max: 30_000 }) }) },
);
export type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/** What the operator asked, as the model keeps it: no scheduling, only names, revisions and specs. */
export class Model {
  /** Each apply's token (a spec's identity, in its args) and how its copies behave. */
  readonly behaviour = new Map<string, Behaviour>();
  /** Per live name, the revisions of its current incarnation: generation → token. */
  readonly revisions = new Map<string, Map<number, string>>();
  /** Tokens of incarnations that were deleted: no copy of them may start again. */
  readonly deleted = new Set<string>();
  private next = 0;

  token(b: Behaviour): string {
    const t = `t${this.next++}`;
    this.behaviour.set(t, b);
    return t;
  }
}

/** A spec's token and behaviour, from its args: ["<behaviour>", "<token>"]. */
export const tokenOf = (s: WorkloadSpec | undefined) => s?.args[1] ?? "";
export const behaviourOf = (s: WorkloadSpec | undefined) => (s?.args[0] ?? "good") as Behaviour;

export function specOf(v: Variant, token: string): WorkloadSpec {
  return spec({
    args: [v.behaviour, token],
    replicas: v.replicas,
    ports: [{ name: "http", protocol: "tcp", static: undefined, to: undefined }],
    checks: v.checks || v.behaviour === "unready" ? [CHECK] : [],
    restartPolicy: { mode: 1, initialBackoff: { seconds: 1, nanos: 0 }, maxBackoff: { seconds: 4, nanos: 0 } },
    update: {
      maxSurge: v.maxSurge,
      maxUnavailable: v.maxUnavailable,
      canary: v.canary,
      autoPromote: v.autoPromote,
      autoRevert: v.autoRevert,
      ...(v.soakS === undefined ? {} : { minHealthyTime: { seconds: v.soakS, nanos: 0 } }),
      waves: v.waves ? WAVES : [],
    },
    progressDeadline: { seconds: 20, nanos: 0 },
  });
}

/** How many replicas have a copy that is Ready (and `counted`). */
export function readyReplicas(copies: Instance[], counted: (i: Instance) => boolean): number {
  return new Set(copies.filter((i) => isReady(i) && counted(i)).map((i) => i.index)).size;
}

/** A stop the reconciler makes to move a rollout (or drain) along, not one the user or a failure asked for. */
export const isRolloutStop = (reason: string) => /^(update|rollout|drain): |^replaced by /.test(reason);

