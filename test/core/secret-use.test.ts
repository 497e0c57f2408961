/**
 * What a workload uses of secrets and configs (model/secret-use.ts): the spec's fields checked
 * naming the field, and placement keeping a copy Pending, saying why, while what it uses does
 * not exist (#30).
 */
import { describe, expect, test } from "bun:test";
import { validateWorkload } from "../../src/core/model/validate.js";
import { emptyState } from "../../src/core/model/cluster-state.js";
import type { WorkloadSpec } from "../../src/gen/tessera/v1/types.js";
import { apply, nodeConnected, reconcileOnce, spec, T0, workloadApplied } from "./fixtures.js";

const secretUpdated = (name: string, keys: string[], kind: "secret" | "config" = "secret") => ({ type: "SecretUpdated" as const, at: T0, kind, name, version: 1, keys: keys.map((key) => ({ key, size: 3 })), digest: "d", by: "admin" });

describe("the spec's fields", () => {
  test.each([
    ["a secret name that is no DNS label", { secrets: [{ name: "Db", mountPath: "" }] }, "workload.spec.secrets[0].name"],
    ["a config named twice", { configs: [{ name: "app", mountPath: "" }, { name: "app", mountPath: "" }] }, "workload.spec.configs[1].name"],
    ["an image's relative mount path", { command: "", image: "nginx", secrets: [{ name: "db", mountPath: "run/db" }] }, "workload.spec.secrets[0].mount_path"],
    ["an env name that is no variable name", { secretEnv: { "1X": { secret: "db", key: "password" } } }, "workload.spec.secret_env.1X"],
    ["an env name also in env", { env: { PASSWORD: "x" }, secretEnv: { PASSWORD: { secret: "db", key: "password" } } }, "workload.spec.secret_env.PASSWORD"],
    ["an env key that is no key", { secretEnv: { P: { secret: "db", key: "a/b" } } }, "workload.spec.secret_env.P.key"],
  ])("%s is refused naming the field", (_, over, field) => {
    const problems = validateWorkload({ name: "web", labels: {}, spec: spec(over as Partial<WorkloadSpec>) });
    expect(problems).toContainEqual(expect.objectContaining({ kind: "InvalidArgument", field }));
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
