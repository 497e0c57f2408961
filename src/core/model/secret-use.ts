/**
 * What a workload's spec uses of secrets and configs (spec.secrets, spec.configs,
 * spec.secret_env): checking it, and why a copy cannot be placed while something it uses does
 * not exist. PURE.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { Effect } from "./effects.js";
import { invalidArgument, type Rejection } from "./rejections.js";
import { type SecretKind, type SecretRecord, type SecretVersion, currentVersion, secretId } from "./secrets.js";
import { validateName } from "./validate.js";
import { containerPathProblem } from "./volumes.js";

/** Everything a spec needs to exist: each set it uses (at the version it runs, when set), each secret key its env names. */
export interface SecretNeeds {
  sets: Array<{ kind: SecretKind; name: string; version?: number }>;
  keys: Array<{ secret: string; key: string }>;
}

/** The spec's fields, empty when absent: specs recorded before them (golden logs) lack them. */
function usesOf(spec: WorkloadSpec): Pick<WorkloadSpec, "secrets" | "configs" | "secretEnv" | "secretVersions"> {
  return { secrets: spec.secrets ?? [], configs: spec.configs ?? [], secretEnv: spec.secretEnv ?? {}, secretVersions: spec.secretVersions ?? {} };
}

/** What a spec using no secret or config needs (most specs), shared: a resolved spec is never changed. */
const NO_NEEDS: SecretNeeds = Object.freeze({ sets: Object.freeze([]) as never[], keys: Object.freeze([]) as never[] });

export function secretNeeds(spec: WorkloadSpec): SecretNeeds {
  const u = usesOf(spec);
  if (u.secrets.length === 0 && u.configs.length === 0 && Object.keys(u.secretEnv).length === 0) return NO_NEEDS;
  const set = (kind: SecretKind, name: string) => {
    const version = u.secretVersions[secretId(kind, name)];
    return version === undefined ? { kind, name } : { kind, name, version };
  };
  const sets = [...u.secrets.map((s) => set("secret", s.name)), ...u.configs.map((c) => set("config", c.name))];
  // A secret only its env names is needed at its version too.
  for (const r of Object.values(u.secretEnv)) if (!sets.some((s) => s.kind === "secret" && s.name === r.secret)) sets.push(set("secret", r.secret));
  return { sets, keys: Object.values(u.secretEnv).map((r) => ({ secret: r.secret, key: r.key })) };
}

/** The version of a set a copy runs with: the one its spec names, else the current one; undefined when not kept (or none). */
export function versionUsed(secrets: ReadonlyMap<string, Readonly<SecretRecord>>, need: SecretNeeds["sets"][number]): SecretVersion | undefined {
  const r = secrets.get(secretId(need.kind, need.name));
  if (r === undefined) return undefined;
  return need.version === undefined ? currentVersion(r) : r.versions.find((v) => v.version === need.version);
}

/** Why a copy using `needs` cannot run now (Pending), or undefined when all of it exists. */
export function missingSecret(secrets: ReadonlyMap<string, Readonly<SecretRecord>>, needs: SecretNeeds): string | undefined {
  for (const need of needs.sets) {
    if (!secrets.has(secretId(need.kind, need.name))) return `${need.kind} ${need.name} does not exist`;
    if (versionUsed(secrets, need) === undefined) return `${need.kind} ${need.name} version ${need.version} is no longer kept (apply the workload again to take the current one)`;
  }
  for (const { secret, key } of needs.keys) {
    const v = versionUsed(secrets, needs.sets.find((s) => s.kind === "secret" && s.name === secret)!);
    if (!v!.keys.some((k) => k.key === key)) return `secret ${secret} has no key ${key}`;
  }
  return undefined;
}

/** The spec with the versions it runs with set to the current ones of what it uses (an apply). */
export function withCurrentVersions(secrets: ReadonlyMap<string, Readonly<SecretRecord>>, spec: WorkloadSpec): WorkloadSpec {
  const secretVersions: Record<string, number> = {};
  for (const { kind, name } of secretNeeds({ ...spec, secretVersions: {} }).sets) {
    const r = secrets.get(secretId(kind, name));
    if (r) secretVersions[secretId(kind, name)] = currentVersion(r).version;
  }
  // A spec recorded before versions (no field) stays as it was when it uses nothing: applying it again changes nothing.
  if (spec.secretVersions === undefined && Object.keys(secretVersions).length === 0) return spec;
  return { ...spec, secretVersions };
}

/** What a spec's copies do on a new version of what they use (spec.on_change). */
export type ChangeMode = "restart" | "signal" | "none";

/** tessera.v1.OnChange by number (the core imports only types from generated code); unset: restart. */
const CHANGE_MODES: Record<number, ChangeMode> = { 0: "restart", 1: "restart", 2: "signal", 3: "none" };

export function changeMode(spec: WorkloadSpec): ChangeMode {
  return CHANGE_MODES[spec.onChange ?? 0] ?? "restart";
}

/**
 * What a copy placed to run is sent when the versions its workload's spec names may not be
 * those it holds (a new version, an undo, a hello after a stream was down): them, written in
 * place, with SIGHUP under SIGNAL. Undefined under RESTART (a rollout carries them), or when
 * the copy mounts nothing (its secret_env is fixed at its start). The agent writes nothing and
 * sends no signal for versions it holds already.
 */
export function refreshOf(copy: { id: string; node: string }, spec: WorkloadSpec, generation: number): Effect | undefined {
  const mode = changeMode(spec);
  if (mode === "restart" || (spec.secrets ?? []).length + (spec.configs ?? []).length === 0) return undefined;
  return { type: "RefreshSecrets", node: copy.node, instanceId: copy.id, generation, spec, signal: mode === "signal" };
}

/** Whether a spec uses a set. */
export function usesSet(spec: WorkloadSpec, kind: SecretKind, name: string): boolean {
  return secretNeeds(spec).sets.some((s) => s.kind === kind && s.name === name);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Problems with what a spec uses, each naming its field. */
export function validateSecretUse(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  const image = spec.image !== "";
  const u = usesOf(spec);
  // A container's mount paths, each used once (by a volume, a secret or a config).
  const paths = new Map((spec.volumes ?? []).map((v, i) => [v.mountPath, `volumes[${i}]`]));
  for (const [field, list] of [["secrets", u.secrets], ["configs", u.configs]] as const) {
    const seen = new Set<string>();
    list.forEach((m, i) => {
      const at = `workload.spec.${field}[${i}]`;
      const bad = validateName(m.name, `${at}.name`);
      if (bad) problems.push(bad);
      if (m.template && field === "secrets") problems.push(invalidArgument(`${at}.template`, "configs only: a secret's values are written as they are"));
      if (seen.has(m.name)) problems.push(invalidArgument(`${at}.name`, `each ${field === "secrets" ? "secret" : "config"} once, got "${m.name}" again`));
      seen.add(m.name);
      if (image) {
        const problem = m.mountPath === "" ? "the absolute path in the container to mount its files at (read-only)" : containerPathProblem(m.mountPath);
        if (problem) problems.push(invalidArgument(`${at}.mount_path`, problem));
        else if (paths.has(m.mountPath)) problems.push(invalidArgument(`${at}.mount_path`, `a path not used by ${paths.get(m.mountPath)}, got "${m.mountPath}" again`));
        else paths.set(m.mountPath, `${field}[${i}]`);
      }
    });
  }
  if (spec.onChange !== undefined && CHANGE_MODES[spec.onChange] === undefined) problems.push(invalidArgument("workload.spec.on_change", `ON_CHANGE_RESTART, ON_CHANGE_SIGNAL or ON_CHANGE_NONE, got ${spec.onChange}`));
  for (const [name, ref] of Object.entries(u.secretEnv)) {
    const at = `workload.spec.secret_env.${name}`;
    if (!ENV_NAME.test(name)) problems.push(invalidArgument(at, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"));
    else if (Object.hasOwn(spec.env, name)) problems.push(invalidArgument(at, `a name not also in env, got "${name}" in both`));
    const bad = validateName(ref.secret, `${at}.secret`);
    if (bad) problems.push(bad);
    if (!/^[A-Za-z0-9._-]{1,253}$/.test(ref.key)) problems.push(invalidArgument(`${at}.key`, `a key of the secret, got "${ref.key}"`));
  }
  return problems;
}
