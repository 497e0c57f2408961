/**
 * What a workload's spec uses of secrets and configs (spec.secrets, spec.configs,
 * spec.secret_env): checking it, and why a copy cannot be placed while something it uses does
 * not exist. PURE.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { Rejection } from "./rejections.js";
import { type SecretKind, type SecretRecord, currentVersion, secretId } from "./secrets.js";
import { validateName } from "./validate.js";

/** Everything a spec needs to exist: each set it mounts, each secret key its env names. */
export interface SecretNeeds {
  sets: Array<{ kind: SecretKind; name: string }>;
  keys: Array<{ secret: string; key: string }>;
}

/** The spec's fields, empty when absent: specs recorded before them (golden logs) lack them. */
function usesOf(spec: WorkloadSpec): Pick<WorkloadSpec, "secrets" | "configs" | "secretEnv"> {
  return { secrets: spec.secrets ?? [], configs: spec.configs ?? [], secretEnv: spec.secretEnv ?? {} };
}

export function secretNeeds(spec: WorkloadSpec): SecretNeeds {
  const u = usesOf(spec);
  return {
    sets: [...u.secrets.map((s) => ({ kind: "secret" as const, name: s.name })), ...u.configs.map((c) => ({ kind: "config" as const, name: c.name }))],
    keys: Object.values(u.secretEnv).map((r) => ({ secret: r.secret, key: r.key })),
  };
}

/** Why a copy using `needs` cannot run now (Pending), or undefined when all of it exists. */
export function missingSecret(secrets: ReadonlyMap<string, Readonly<SecretRecord>>, needs: SecretNeeds): string | undefined {
  for (const { kind, name } of needs.sets) if (!secrets.has(secretId(kind, name))) return `${kind} ${name} does not exist`;
  for (const { secret, key } of needs.keys) {
    const r = secrets.get(secretId("secret", secret));
    if (r === undefined) return `secret ${secret} does not exist`;
    if (!currentVersion(r).keys.some((k) => k.key === key)) return `secret ${secret} has no key ${key}`;
  }
  return undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const invalid = (field: string, expected: string): Rejection => ({ kind: "InvalidArgument", field, expected });

/** Problems with what a spec uses, each naming its field. */
export function validateSecretUse(spec: WorkloadSpec): Rejection[] {
  const problems: Rejection[] = [];
  const image = spec.image !== "";
  const u = usesOf(spec);
  // Containers get no bind mount or env from secrets yet: refused rather than started without them.
  if (image && (u.secrets.length > 0 || u.configs.length > 0 || Object.keys(u.secretEnv).length > 0)) {
    problems.push(invalid("workload.spec.secrets", "process workloads only: secrets and configs are not yet delivered to containers"));
  }
  for (const [field, list] of [["secrets", u.secrets], ["configs", u.configs]] as const) {
    const seen = new Set<string>();
    list.forEach((m, i) => {
      const at = `workload.spec.${field}[${i}]`;
      const bad = validateName(m.name, `${at}.name`);
      if (bad) problems.push(bad);
      if (seen.has(m.name)) problems.push(invalid(`${at}.name`, `each ${field === "secrets" ? "secret" : "config"} once, got "${m.name}" again`));
      seen.add(m.name);
      if (image && !(m.mountPath.startsWith("/") && m.mountPath !== "/")) problems.push(invalid(`${at}.mount_path`, `an absolute path in the container (not "/"), got "${m.mountPath}"`));
    });
  }
  for (const [name, ref] of Object.entries(u.secretEnv)) {
    const at = `workload.spec.secret_env.${name}`;
    if (!ENV_NAME.test(name)) problems.push(invalid(at, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"));
    else if (Object.hasOwn(spec.env, name)) problems.push(invalid(at, `a name not also in env, got "${name}" in both`));
    const bad = validateName(ref.secret, `${at}.secret`);
    if (bad) problems.push(bad);
    if (!/^[A-Za-z0-9._-]{1,253}$/.test(ref.key)) problems.push(invalid(`${at}.key`, `a key of the secret, got "${ref.key}"`));
  }
  return problems;
}
