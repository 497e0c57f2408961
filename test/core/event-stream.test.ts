/** The public event stream's decisions (src/core/events/event-stream.ts) as tables: topics, the filter, retention. */
import { describe, expect, test } from "bun:test";
import { checkRetained, eventTopic, matchesEventFilter, parseEventFilter, TOPICS } from "../../src/core/events/event-stream.js";
import { isRejection } from "../../src/core/views/paging.js";

const ev = (type: string, over: Partial<{ workload: string; node: string; instance: string }> = {}) => ({ type, workload: "", node: "", instance: "", ...over });

describe("topics", () => {
  test.each([
    ["WorkloadApplied", "Workload"],
    ["QuarantineLifted", "Workload"],
    ["RolloutCompleted", "Rollout"],
    ["InstanceTransitioned", "Instance"],
    ["NodeCordoned", "Node"],
    ["TokenIssued", "Token"],
    ["ListeningStarted", "ControlPlane"],
    ["SomethingNew", undefined],
  ])("%s is of %s", (type, topic) => expect(eventTopic(type)).toBe(topic as never));

  test("topics are read in any case; an unknown one is refused naming the field and the choices", () => {
    expect(parseEventFilter(["workload", "NODE"], undefined)).toEqual({ topics: ["Workload", "Node"] });
    const bad = parseEventFilter(["Weather"], undefined);
    expect(isRejection(bad) && bad.kind === "InvalidArgument" && bad.field).toBe("topic");
    expect(JSON.stringify(bad)).toContain(TOPICS.join(", "));
    expect(isRejection(parseEventFilter([], ""))).toBe(true);
  });
});

describe("the filter", () => {
  test.each<[string, ReturnType<typeof ev>, boolean]>([
    ["no filter: everything", ev("NodeCordoned", { node: "n1" }), true],
    ["topic Workload, key web: web's apply", ev("WorkloadApplied", { workload: "web" }), true],
    ["topic Workload, key web: db's apply", ev("WorkloadApplied", { workload: "db" }), false],
    ["topic Workload, key web: web's copies are another topic", ev("InstanceTransitioned", { workload: "web", instance: "web-1.1" }), false],
  ])("%s", (name, e, through) => {
    const filter = name.startsWith("no filter") ? { topics: [] } : { topics: ["Workload" as const], key: "web" };
    expect(matchesEventFilter(e, filter)).toBe(through);
  });

  test("a key matches a workload, a node or an instance id", () => {
    expect(matchesEventFilter(ev("NodeCordoned", { node: "n1" }), { topics: [], key: "n1" })).toBe(true);
    expect(matchesEventFilter(ev("InstanceCreated", { workload: "web", instance: "web-1.1", node: "n1" }), { topics: ["Instance"], key: "web-1.1" })).toBe(true);
  });
});

describe("retention", () => {
  test.each<[string, number, number, number, boolean]>([
    ["from the oldest retained (0) always", 0, 50, 90, true],
    ["right before the oldest retained", 49, 50, 90, true],
    ["past the newest: waits for it", 200, 50, 90, true],
    ["before the oldest retained: events were dropped", 48, 50, 90, false],
    ["an emptied log after numbers were assigned", 10, 0, 90, false],
    ["an empty log, caught up", 90, 0, 90, true],
  ])("%s", (_name, after, oldest, newest, ok) => {
    const r = checkRetained(after, oldest, newest);
    expect(r === undefined).toBe(ok);
    if (r) expect(r).toEqual({ kind: "EventsNotRetained", after, oldest });
  });
});
