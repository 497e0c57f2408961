/**
 * Invariant 8 through the store: an event read back from its row is the event written, as
 * text too (sameTemplate compares specs as text), whether its row holds a WorkloadApplied's
 * specs as proto3 JSON (what eventToRow writes, issue 33) or as the whole object (what the log
 * held before).
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { eventFromRow, eventToRow } from "../../src/control/store/rows.js";
import type { ClusterEvent } from "../../src/core/events/cluster-events.js";
import { runSpec } from "../../src/core/model/spec.js";
import { CheckRole, ConcurrencyPolicy, OnChange, RestartMode, VolumeType, WhenUnsatisfiable, WorkloadKind, WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { T0 } from "../core/fixtures.js";

const SEED = Number(process.env.TESSERA_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 300);
console.log(`fast-check seed ${SEED}, ${RUNS} runs per property (TESSERA_PROPERTY_SEED / TESSERA_PROPERTY_RUNS to change)`);

const some = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const anyOf = (e: Record<string, string | number>) => fc.constantFrom(...Object.values(e).filter((v): v is number => typeof v === "number" && v >= 0));
const word = fc.string({ maxLength: 8 });
const map = <T>(v: fc.Arbitrary<T>) => fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), v, { maxKeys: 3 });
const duration = fc.record({ seconds: fc.nat(86_400), nanos: fc.constantFrom(0, 250_000_000) });
const count = fc.nat(100);

const probe = fc.oneof(
  fc.record({ $case: fc.constant("exec" as const), value: fc.record({ command: word, args: fc.array(word, { maxLength: 2 }) }) }),
  fc.record({ $case: fc.constant("http" as const), value: fc.record({ port: fc.nat(65_535), path: word, portName: word }) }),
  fc.record({ $case: fc.constant("tcp" as const), value: fc.record({ port: fc.nat(65_535), portName: word }) }),
);
const check = fc.record({
  name: word,
  role: anyOf(CheckRole),
  probe: some(probe),
  interval: some(duration),
  timeout: some(duration),
  initialDelay: some(duration),
  successThreshold: count,
  failureThreshold: count,
});
const mount = fc.record({ name: word, mountPath: word, template: some(fc.boolean()) });

/** Any spec a client may send, every field drawn or left out, built in the proto's field order as decoding builds it. */
const specArb = fc
  .record(
    {
      command: word,
      args: fc.array(word, { maxLength: 3 }),
      env: map(word),
      workingDir: word,
      image: word,
      replicas: count,
      resources: fc.record({ cpuMillis: fc.nat(64_000), memoryMb: fc.nat(262_144) }),
      nodeSelector: map(word),
      restartPolicy: fc.record({ mode: anyOf(RestartMode), initialBackoff: some(duration), maxBackoff: some(duration) }),
      update: fc.record({
        maxUnavailable: some(count),
        maxSurge: some(count),
        canary: some(count),
        autoPromote: some(fc.boolean()),
        minHealthyTime: some(duration),
        autoRevert: some(fc.boolean()),
        waves: fc.array(fc.record({ nodeSelector: map(word) }), { maxLength: 2 }),
      }),
      stopGracePeriod: duration,
      checks: fc.array(check, { maxLength: 2 }),
      progressDeadline: duration,
      ports: fc.array(fc.record({ name: word, static: some(fc.nat(65_535)), to: some(fc.nat(65_535)), protocol: fc.constantFrom("tcp", "udp") }), { maxLength: 2 }),
      volumes: fc.array(fc.record({ name: word, type: anyOf(VolumeType), mountPath: word, readOnly: fc.boolean(), source: word, sizeMb: count }), { maxLength: 2 }),
      kind: anyOf(WorkloadKind),
      completions: count,
      parallelism: count,
      backoffLimit: count,
      ttlAfterFinished: duration,
      placement: fc.record({
        maxPerNode: count,
        spread: fc.array(fc.record({ label: word, weight: count, targets: fc.array(fc.record({ value: word, percent: count }), { maxLength: 2 }), whenUnsatisfiable: anyOf(WhenUnsatisfiable) }), { maxLength: 2 }),
        affinity: fc.array(fc.record({ label: word, value: word, weight: count }), { maxLength: 2 }),
      }),
      secrets: fc.array(mount, { maxLength: 2 }),
      configs: fc.array(mount, { maxLength: 2 }),
      secretEnv: map(fc.record({ secret: word, key: word })),
      secretVersions: map(count),
      onChange: anyOf(OnChange),
      schedule: word,
      timeZone: word,
      concurrency: anyOf(ConcurrencyPolicy),
      startingDeadline: duration,
      keepRuns: count,
      disconnect: fc.record({ lostAfter: some(duration), replace: some(fc.boolean()), stopOnClientAfter: some(duration) }),
    },
    { requiredKeys: [] },
  )
  .map((parts) => WorkloadSpec.fromPartial(parts));

const appliedArb = fc.record({ spec: specArb, previous: fc.oneof(fc.constant(undefined), fc.constant(null), specArb), run: fc.boolean(), generation: fc.integer({ min: 1, max: 9 }) }).map(
  ({ spec, previous, run, generation }): ClusterEvent => ({
    type: "WorkloadApplied",
    at: T0,
    workload: { name: "web", labels: { tier: "a" }, spec: run ? runSpec(spec) : spec, generation, templateGeneration: generation },
    ...(previous === undefined ? {} : { previousSpec: previous }),
    ...(run ? { run: { workload: "nightly", due: T0 } } : {}),
  }),
);

const readBack = (data: string) => eventFromRow({ ...eventToRow({ type: "WorkloadRemoved", at: T0, name: "web" }), seq: 1, data }).event;

test("8: a WorkloadApplied read back from its row is the event written, as text too", () => {
  fc.assert(
    fc.property(appliedArb, (e) => {
      const written = eventToRow(e).data;
      expect(JSON.stringify(readBack(written))).toBe(JSON.stringify(e));
      expect(readBack(written)).toEqual(e);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test("8: a row from before, holding the specs whole, reads back as the event it was", () => {
  fc.assert(
    fc.property(appliedArb, (e) => {
      expect(JSON.stringify(readBack(JSON.stringify(e)))).toBe(JSON.stringify(e));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

// Not shorter for every spec: proto3 JSON names an enum (WHEN_UNSATISFIABLE_…) where the object
// holds its number, so a spec of many enums set may take a few bytes more. Most state little.
test("the specs are written as proto3 JSON: a spec of defaults takes less than half the object's bytes", () => {
  const e: ClusterEvent = { type: "WorkloadApplied", at: T0, workload: { name: "web", labels: {}, spec: WorkloadSpec.fromPartial({ command: "/bin/sleep", args: ["3600"] }), generation: 1, templateGeneration: 1 } };
  const data = eventToRow(e).data;
  expect(JSON.parse(data).workload.spec).toEqual({ command: "/bin/sleep", args: ["3600"] });
  expect(data.length * 2).toBeLessThan(JSON.stringify(e).length);
});
