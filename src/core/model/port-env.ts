/**
 * What a copy learns of itself and its ports (and, by name, of its volumes: volumes.ts sets
 * those): the environment the agent gives it, and the expansion of `${TESSERA_...}` in its args,
 * env values and working dir. PURE, shared by the control plane (which refuses a reference no
 * copy could ever have, at apply) and the agent (which expands).
 *
 * Names follow Nomad's: TESSERA_PORT_<NAME> is the port the copy listens on (a container's
 * port when the port has `to`), TESSERA_HOST_PORT_<NAME> the host's, TESSERA_ADDR_<NAME>
 * host ip:host port, TESSERA_HOST_IP the node's advertised address. A batch copy's index is
 * TESSERA_COMPLETION_INDEX, as Kubernetes' JOB_COMPLETION_INDEX.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import { indexOfInstanceName } from "./cluster-state.js";
import type { AssignedPort } from "./ports.js";
import type { Rejection } from "./rejections.js";
import { kindOf } from "./spec.js";

/** NAME in TESSERA_PORT_<NAME> and TESSERA_VOLUME_<NAME>: `admin-http` → `ADMIN_HTTP`. */
export function envName(name: string): string {
  return name.toUpperCase().replaceAll("-", "_");
}

/** Variables the agent sets on every copy, ports or not. */
const ALWAYS = ["TESSERA_INSTANCE", "TESSERA_INSTANCE_ID", "TESSERA_WORKLOAD", "TESSERA_HOST_IP"];
/** A batch copy's index, 0 to completions − 1: which part of the work it does. */
const COMPLETION_INDEX = "TESSERA_COMPLETION_INDEX";

/** The names a copy of `spec` is given, whatever numbers placement chooses. */
export function knownVariables(spec: WorkloadSpec): Set<string> {
  const names = new Set(ALWAYS);
  if (kindOf(spec) === "batch") names.add(COMPLETION_INDEX);
  for (const p of spec.ports ?? []) for (const v of ["PORT", "HOST_PORT", "ADDR"]) names.add(`TESSERA_${v}_${envName(p.name)}`);
  for (const v of spec.volumes ?? []) names.add(`TESSERA_VOLUME_${envName(v.name)}`);
  return names;
}

/** Which copy it is: its name (`web-0`), id and workload, and a batch copy's completion index. */
export function identityEnvironment(spec: WorkloadSpec, copy: { instanceId: string; name: string; workload: string }): Record<string, string> {
  const env: Record<string, string> = { TESSERA_INSTANCE: copy.name, TESSERA_INSTANCE_ID: copy.instanceId, TESSERA_WORKLOAD: copy.workload };
  if (kindOf(spec) === "batch") env[COMPLETION_INDEX] = String(indexOfInstanceName(copy.workload, copy.name));
  return env;
}

/** The port variables of one copy. */
export function portEnvironment(ports: readonly AssignedPort[], hostIp: string): Record<string, string> {
  const env: Record<string, string> = { TESSERA_HOST_IP: hostIp };
  for (const p of ports) {
    const name = envName(p.name);
    env[`TESSERA_PORT_${name}`] = String(p.containerPort || p.hostPort);
    env[`TESSERA_HOST_PORT_${name}`] = String(p.hostPort);
    env[`TESSERA_ADDR_${name}`] = `${hostIp}:${p.hostPort}`;
  }
  return env;
}

/** `$${` (a literal `${`) or `${TESSERA_...}`: its source, which template configs extend (config-template.ts). */
export const VARIABLE_REFERENCE = String.raw`\$\$\{|\$\{(TESSERA_[A-Za-z0-9_]*)\}`;
const REFERENCE = new RegExp(VARIABLE_REFERENCE, "g");

/** `text` with every `${TESSERA_...}` replaced from `vars` and `$${` turned into `${`; an unknown name is left as written. */
export function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(REFERENCE, (whole, name: string | undefined) => (name === undefined ? "${" : (vars[name] ?? whole)));
}

/** The `${TESSERA_...}` names `text` refers to (escaped ones are not references). */
function references(text: string): string[] {
  // Most text refers to nothing: skip the regex and its arrays (every spec applied is checked).
  if (!text.includes("${")) return [];
  return [...text.matchAll(REFERENCE)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]));
}

/** The spec's args, env values and working dir with its copy's variables expanded. */
export function expandSpec(spec: WorkloadSpec, vars: Readonly<Record<string, string>>): Pick<WorkloadSpec, "args" | "env" | "workingDir"> {
  return {
    args: spec.args.map((a) => expand(a, vars)),
    env: Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, expand(v, vars)])),
    workingDir: expand(spec.workingDir, vars),
  };
}

/** Every `${TESSERA_...}` no copy of `spec` would have, refused naming its field. */
export function validateReferences(spec: WorkloadSpec): Rejection[] {
  let known: Set<string> | undefined;
  const fields: Array<[string, string]> = [
    ...spec.args.map((a, i): [string, string] => [`args[${i}]`, a]),
    ...Object.entries(spec.env).map(([k, v]): [string, string] => [`env.${k}`, v]),
    ["working_dir", spec.workingDir],
  ];
  return fields.flatMap(([field, text]) =>
    references(text)
      .filter((name) => !(known ??= knownVariables(spec)).has(name))
      .map((name): Rejection => ({ kind: "InvalidArgument", field: `workload.spec.${field}`, expected: `a variable a copy has (${[...known!].sort().join(", ")}), got \${${name}}` })),
  );
}
