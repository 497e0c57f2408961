/**
 * What a workload uses of secrets and configs (model/secret-use.ts): the spec's fields checked
 * naming the field, and placement keeping a copy Pending, saying why, while what it uses does
 * not exist (#30).
 */
import { describe, expect, test } from "bun:test";
import { validateWorkload } from "../../src/core/model/validate.js";
import { type ClusterState, emptyState } from "../../src/core/model/cluster-state.js";
import type { Command } from "../../src/core/decide/commands.js";
import { decide } from "../../src/core/decide/decide.js";
import { missingSecret, secretNeeds, versionUsed } from "../../src/core/model/secret-use.js";
import { resolveSpec } from "../../src/core/model/spec.js";
import type { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { apply, nodeConnected, reconcileOnce, spec, T0, workloadApplied } from "./fixtures.js";

const secretUpdated = (name: string, keys: string[], kind: "secret" | "config" = "secret") => ({ type: "SecretUpdated" as const, at: T0, kind, name, version: 1, keys: keys.map((key) => ({ key, size: 3 })), digest: "d", by: "admin" });

describe("the spec's fields", () => {
  test.each([
    ["a secret name that is no DNS label", { secrets: [{ name: "Db", mountPath: "" }] }, "workload.spec.secrets[0].name"],
    ["a config named twice", { configs: [{ name: "app", mountPath: "" }, { name: "app", mountPath: "" }] }, "workload.spec.configs[1].name"],
    ["an image's relative mount path", { command: "", image: "nginx", secrets: [{ name: "db", mountPath: "run/db" }] }, "workload.spec.secrets[0].mount_path"],
    ["an image's secret without a mount path", { command: "", image: "nginx", secrets: [{ name: "db", mountPath: "" }] }, "workload.spec.secrets[0].mount_path"],
    ["an image's config mounted at /", { command: "", image: "nginx", configs: [{ name: "app", mountPath: "/" }] }, "workload.spec.configs[0].mount_path"],
    ["an image's mount path not clean", { command: "", image: "nginx", configs: [{ name: "app", mountPath: "/etc/../app" }] }, "workload.spec.configs[0].mount_path"],
    ["an image's config mounted where its secret is", { command: "", image: "nginx", secrets: [{ name: "db", mountPath: "/run/db" }], configs: [{ name: "app", mountPath: "/run/db" }] }, "workload.spec.configs[0].mount_path"],
    ["an image's secret mounted where a volume is", { command: "", image: "nginx", volumes: [{ name: "data", type: 3, mountPath: "/run/db", source: "", readOnly: false, sizeMb: 1 }], secrets: [{ name: "db", mountPath: "/run/db" }] }, "workload.spec.secrets[0].mount_path"],
    ["a secret marked as a template", { secrets: [{ name: "db", mountPath: "", template: true }] }, "workload.spec.secrets[0].template"],
    ["an env name that is no variable name", { secretEnv: { "1X": { secret: "db", key: "password" } } }, "workload.spec.secret_env.1X"],
    ["an env name also in env", { env: { PASSWORD: "x" }, secretEnv: { PASSWORD: { secret: "db", key: "password" } } }, "workload.spec.secret_env.PASSWORD"],
    ["an env key that is no key", { secretEnv: { P: { secret: "db", key: "a/b" } } }, "workload.spec.secret_env.P.key"],
  ])("%s is refused naming the field", (_, over, field) => {
    const problems = validateWorkload({ name: "web", labels: {}, spec: spec(over as Partial<WorkloadSpec>) });
    expect(problems).toContainEqual(expect.objectContaining({ kind: "InvalidArgument", field }));
  });

  test("a container's secrets and configs at clean absolute paths, and its secret env, are accepted", () => {
    const container = spec({ command: "", image: "nginx", secrets: [{ name: "db", mountPath: "/run/secrets/db" }], configs: [{ name: "app", mountPath: "/etc/app" }], secretEnv: { P: { secret: "db", key: "password" } } });
    expect(validateWorkload({ name: "web", labels: {}, spec: container })).toEqual([]);
  });

  test("a process's secrets need no mount path", () => {
    expect(validateWorkload({ name: "web", labels: {}, spec: spec({ secrets: [{ name: "db", mountPath: "" }], secretEnv: { P: { secret: "db", key: "password" } } }) })).toEqual([]);
  });
});

describe("placement waits for what a copy uses", () => {
  const uses = spec({ secrets: [{ name: "db", mountPath: "" }], configs: [{ name: "app", mountPath: "" }], secretEnv: { P: { secret: "db", key: "password" } } });
  test.each([
    ["nothing exists", [], "secret db does not exist"],
    ["the config is missing", [secretUpdated("db", ["password"])], "config app does not exist"],
    ["the env's key is missing", [secretUpdated("db", ["user"]), secretUpdated("app", ["a.conf"], "config")], "secret db has no key password"],
  ])("%s: the copy is Pending saying so", (_, events, reason) => {
    const state = apply(emptyState(), [nodeConnected("n1", T0), ...events, workloadApplied("web", T0, { spec: uses })]);
    reconcileOnce(state, T0);
    const copies = [...state.instances.values()];
    expect(copies.map((i) => [i.state, i.node, i.reason])).toEqual([["pending", null, reason]]);
  });

  test("once everything exists it is placed", () => {
    const state = apply(emptyState(), [nodeConnected("n1", T0), workloadApplied("web", T0, { spec: uses })]);
    reconcileOnce(state, T0);
    apply(state, [secretUpdated("db", ["password"]), secretUpdated("app", ["a.conf"], "config")]);
    reconcileOnce(state, T0 + 1);
    expect([...state.instances.values()].map((i) => [i.state, i.node])).toEqual([["scheduled", "n1"]]);
  });
});

describe("rotation: a new version rolls the workloads that use it", () => {
  const uses = spec({ secrets: [{ name: "db", mountPath: "" }] });
  const put = (create: boolean, digest: string): Command => ({ type: "PutSecret", kind: "secret", name: "db", keys: [{ key: "password", size: 3 }], digest, payload: `p-${digest}`, create, by: "admin" });
  const run = (state: ClusterState, c: Command, at = T0) => {
    const d = decide(state, c, at);
    apply(state, d.events);
    return d;
  };
  function cluster(): ClusterState {
    const state = apply(emptyState(), [nodeConnected("n1", T0)]);
    run(state, put(true, "d1"));
    run(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: uses });
    run(state, { type: "ApplyWorkload", name: "other", labels: {}, spec: spec() });
    return state;
  }

  test("an apply takes the current versions; the same manifest again changes nothing", () => {
    const state = cluster();
    expect(state.workloads.get("web")!.spec.secretVersions).toEqual({ "secret/db": 1 });
    expect(run(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: uses }).applied).toBe("unchanged");
  });

  test("an update makes a new generation of each user only, naming the new version; the same values again roll nothing", () => {
    const state = cluster();
    const d = run(state, put(false, "d2"), T0 + 1);
    expect(d.events.map((e) => [e.type, e.type === "WorkloadApplied" ? e.workload.name : ""])).toEqual([["SecretUpdated", ""], ["WorkloadApplied", "web"]]);
    const web = state.workloads.get("web")!;
    expect([web.generation, web.spec.secretVersions, web.previousSpec?.secretVersions]).toEqual([2, { "secret/db": 2 }, { "secret/db": 1 }]);
    expect(state.workloads.get("other")!.generation).toBe(1);
    expect(run(state, put(false, "d2"), T0 + 2).events).toEqual([]);
    // Applying the manifest again keeps the rolled version: nothing to do.
    expect(run(state, { type: "ApplyWorkload", name: "web", labels: {}, spec: uses }).applied).toBe("unchanged");
  });

  test("rollout undo goes back to the version before, which copies then run with", () => {
    const state = cluster();
    run(state, put(false, "d2"), T0 + 1);
    run(state, { type: "RollbackWorkload", name: "web" }, T0 + 2);
    const web = state.workloads.get("web")!;
    expect(web.spec.secretVersions).toEqual({ "secret/db": 1 });
    const used = versionUsed(state.secrets, resolveSpec(web.spec).secretNeeds.sets[0]!);
    expect([used?.version, used?.payload]).toEqual([1, "p-d1"]);
  });

  test("a version no longer kept keeps a new copy Pending saying so", () => {
    const state = cluster();
    for (let i = 2; i <= 7; i++) run(state, put(false, `d${i}`), T0 + i);
    expect(missingSecret(state.secrets, secretNeeds(spec({ secrets: [{ name: "db", mountPath: "" }], secretVersions: { "secret/db": 1 } })))).toBe("secret db version 1 is no longer kept (apply the workload again to take the current one)");
  });
});
