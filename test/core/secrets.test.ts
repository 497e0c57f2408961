/**
 * Secrets and configs in the core (decide/secrets.ts, model/secrets.ts): limits named by
 * field, create against update, versions numbered and kept, and the log's form without the
 * payload (invariant 39).
 */
import { describe, expect, test } from "bun:test";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { evolve, replay } from "../../src/core/events/evolve.js";
import { loggedForm } from "../../src/core/events/event-facts.js";
import { emptyState, forkState } from "../../src/core/model/cluster-state.js";
import { SECRET_LIMITS, type SecretKeyInfo } from "../../src/core/model/secrets.js";
import { T0 } from "./fixtures.js";

const put = (over: Partial<Extract<Command, { type: "PutSecret" }>> = {}): Command => ({
  type: "PutSecret",
  kind: "secret",
  name: "db",
  keys: [{ key: "password", size: 8 }],
  digest: "d1",
  payload: "sealed-1",
  create: true,
  by: "admin",
  ...over,
});

function run(commands: Command[]) {
  const state = emptyState();
  const decisions = commands.map((c, i) => {
    const d = decide(state, c, T0 + i);
    for (const e of d.events) evolve(state, e);
    return d;
  });
  return { state, decisions };
}

describe("limits, each refusal naming its field", () => {
  const big = (n: number): SecretKeyInfo[] => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, size: 1 }));
  test.each([
    ["a name that is no DNS label", put({ name: "Db_1" }), "secret.name"],
    ["no key", put({ keys: [] }), "secret.data"],
    ["too many keys", put({ keys: big(SECRET_LIMITS.keys + 1) }), "secret.data"],
    ["a key that is no file name", put({ keys: [{ key: "../etc", size: 1 }] }), 'secret.data["../etc"]'],
    ["a key of '..'", put({ keys: [{ key: "..", size: 1 }] }), 'secret.data[".."]'],
    ["a value over 64 KiB", put({ keys: [{ key: "big", size: SECRET_LIMITS.valueBytes + 1 }] }), 'secret.data["big"]'],
    ["over 256 KiB in all", put({ keys: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, size: SECRET_LIMITS.valueBytes })) }), "secret.data"],
    ["a config's too", put({ kind: "config", keys: [{ key: "x y", size: 1 }] }), 'config.data["x y"]'],
  ])("%s", (_, command, field) => {
    const d = decide(emptyState(), command, T0);
    expect(d.rejection).toMatchObject({ kind: "InvalidArgument", field });
    expect(d.events).toEqual([]);
  });

  test("exactly at the limits is accepted", () => {
    const keys = Array.from({ length: 4 }, (_, i) => ({ key: `k${i}`, size: SECRET_LIMITS.valueBytes }));
    expect(decide(emptyState(), put({ keys }), T0).rejection).toBeUndefined();
  });
});

describe("create, update, delete", () => {
  test.each([
    ["create twice", [put(), put({ digest: "d2" })], { kind: "SecretExists", secretKind: "secret", name: "db" }],
    ["update of none", [put({ create: false })], { kind: "UnknownSecret", secretKind: "secret", name: "db" }],
    ["delete of none", [{ type: "DeleteSecret", kind: "secret", name: "db", by: "admin" } as Command], { kind: "UnknownSecret", secretKind: "secret", name: "db" }],
    ["a config is not a secret of its name", [put(), put({ kind: "config", create: false })], { kind: "UnknownSecret", secretKind: "config", name: "db" }],
  ])("%s is refused", (_, commands, rejection) => {
    const { decisions } = run(commands);
    expect(decisions[decisions.length - 1]!.rejection).toEqual(rejection as never);
  });

  test("an update numbers a new version; the same values again record nothing", () => {
    const { state, decisions } = run([put(), put({ create: false, digest: "d2", payload: "sealed-2" }), put({ create: false, digest: "d2", payload: "sealed-3" })]);
    expect(decisions.map((d) => d.events.map((e) => e.type))).toEqual([["SecretUpdated"], ["SecretUpdated"], []]);
    const r = state.secrets.get("secret/db")!;
    expect(r.versions.map((v) => [v.version, v.digest, v.payload])).toEqual([[1, "d1", "sealed-1"], [2, "d2", "sealed-2"]]);
    expect(r.createdAt).toBe(T0);
  });

  test(`only the last ${SECRET_LIMITS.versionsKept} versions are kept, with their payloads`, () => {
    const updates = Array.from({ length: 7 }, (_, i) => put({ create: i === 0, digest: `d${i}`, payload: `p${i}` }));
    const r = run(updates).state.secrets.get("secret/db")!;
    expect(r.versions.map((v) => v.version)).toEqual([3, 4, 5, 6, 7]);
  });

  test("delete forgets every version", () => {
    const { state } = run([put(), { type: "DeleteSecret", kind: "secret", name: "db", by: "admin" }]);
    expect(state.secrets.size).toBe(0);
  });

  test("a fork's versions are its own", () => {
    const { state } = run([put()]);
    const fork = forkState(state);
    evolve(fork, { type: "SecretUpdated", at: T0, kind: "secret", name: "db", version: 2, keys: [], digest: "d2", by: "x" });
    expect(state.secrets.get("secret/db")!.versions).toHaveLength(1);
  });
});

describe("invariant 39: the log holds no payload", () => {
  test("the logged form leaves the payload out; replaying it gives versions without one", () => {
    const { decisions } = run([put()]);
    const event = decisions[0]!.events[0]!;
    expect(event).toMatchObject({ payload: "sealed-1" });
    const logged = loggedForm(event);
    expect(JSON.stringify(logged)).not.toContain("sealed-1");
    expect(logged).toEqual({ type: "SecretUpdated", at: T0, kind: "secret", name: "db", version: 1, keys: [{ key: "password", size: 8 }], digest: "d1", by: "admin" });
    const replayed = replay([logged]).secrets.get("secret/db")!;
    expect(replayed.versions[0]).toEqual({ version: 1, keys: [{ key: "password", size: 8 }], digest: "d1", by: "admin", at: T0 });
  });
});

describe("the cluster key rotated: every sealed version sealed again, in one decision", () => {
  const reseal = (versions: Array<[string, number, string]>): Command => ({
    type: "ResealSecrets",
    versions: versions.map(([name, version, from]) => ({ name, version, from, digest: `new-${from}`, payload: `resealed-${from}` })),
    by: "admin",
  });
  const before = () => run([put(), put({ create: false, digest: "d2", payload: "sealed-2" }), put({ name: "api", payload: "sealed-api" }), put({ kind: "config", name: "conf", payload: "plain" })]).state;

  test("each secret's versions get their new digest and payload; configs are not sealed and are left alone", () => {
    const state = before();
    const d = decide(state, reseal([["db", 1, "sealed-1"], ["db", 2, "sealed-2"], ["api", 1, "sealed-api"]]), T0 + 10);
    expect(d.rejection).toBeUndefined();
    expect(d.events.map((e) => e.type)).toEqual(["SecretResealed", "SecretResealed"]);
    for (const e of d.events) evolve(state, e);
    expect(state.secrets.get("secret/db")!.versions.map((v) => [v.version, v.digest, v.payload, v.by, v.at])).toEqual([
      [1, "new-sealed-1", "resealed-sealed-1", "admin", T0],
      [2, "new-sealed-2", "resealed-sealed-2", "admin", T0 + 1],
    ]);
    expect(state.secrets.get("config/conf")!.versions[0]!.payload).toBe("plain");
  });

  test.each([
    ["a version left out", [["db", 1, "sealed-1"], ["api", 1, "sealed-api"]], { name: "db", version: 2 }],
    ["a version whose payload changed since it was read", [["db", 1, "sealed-1"], ["db", 2, "sealed-OLD"], ["api", 1, "sealed-api"]], { name: "db", version: 2 }],
  ] as const)("%s is refused: no value may stay under the old key", (_, versions, at) => {
    const d = decide(before(), reseal(versions as unknown as Array<[string, number, string]>), T0);
    expect(d.rejection).toEqual({ kind: "SecretsChanged", ...at });
    expect(d.events).toEqual([]);
  });

  test("the log's form holds the new digests and no payload; replaying it keeps the versions less their payloads", () => {
    const state = before();
    const [event] = decide(state, reseal([["db", 1, "sealed-1"], ["db", 2, "sealed-2"], ["api", 1, "sealed-api"]]), T0).events;
    const logged = loggedForm(event!);
    expect(JSON.stringify(logged)).not.toContain("resealed-");
    const log = [...run([put(), put({ create: false, digest: "d2", payload: "sealed-2" })]).decisions.flatMap((d) => d.events), logged].map(loggedForm);
    expect(replay(log).secrets.get("secret/db")!.versions.map((v) => [v.digest, v.payload])).toEqual([["new-sealed-1", undefined], ["new-sealed-2", undefined]]);
  });
});
