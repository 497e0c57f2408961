/**
 * Validation of user input, field by field. PURE. Every refusal names the field and what was
 * expected, so a user can fix a manifest without reading source.
 */
import type { WorkloadSpec } from "./model.js";
import type { Rejection } from "./rejections.js";

/** Upper bound on replicas per workload; a typo of 1000000 should not flood a fleet. */
export const MAX_REPLICAS = 10_000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface WorkloadInput {
  name: string;
  labels: Record<string, string>;
  spec: WorkloadSpec | undefined;
}

function invalid(field: string, expected: string): Rejection {
  return { kind: "InvalidArgument", field, expected };
}

/** Returns the first problem with a workload name, or undefined. */
export function validateName(name: string, field = "name"): Rejection | undefined {
  if (name.length === 0) return invalid(field, "a non-empty name");
  if (name.length > 63) return invalid(field, `at most 63 characters, got ${name.length}`);
  if (!DNS_LABEL.test(name))
    return invalid(field, `a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit), got "${name}"`);
  return undefined;
}

/** Returns every problem with a workload, in field order; empty when it is valid. */
export function validateWorkload(input: WorkloadInput): Rejection[] {
  const problems: Rejection[] = [];
  const nameProblem = validateName(input.name, "workload.name");
  if (nameProblem) problems.push(nameProblem);
  const spec = input.spec;
  if (spec === undefined) {
    problems.push(invalid("workload.spec", "an object with at least `command` or `image`"));
    return problems;
  }
  if (spec.image === "" && spec.command === "")
    problems.push(invalid("workload.spec.command", "a command to run (or set spec.image to run a container)"));
  if (spec.image === "" && spec.command !== "" && !spec.command.startsWith("/"))
    problems.push(invalid("workload.spec.command", `an absolute path for a process workload, got "${spec.command}"`));
  if (spec.replicas !== undefined && spec.replicas > MAX_REPLICAS)
    problems.push(invalid("workload.spec.replicas", `at most ${MAX_REPLICAS}, got ${spec.replicas}`));
  for (const key of Object.keys(spec.env)) {
    if (!ENV_NAME.test(key)) problems.push(invalid(`workload.spec.env.${key}`, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"));
  }
  if (spec.workingDir !== "" && !spec.workingDir.startsWith("/"))
    problems.push(invalid("workload.spec.working_dir", `an absolute path, got "${spec.workingDir}"`));
  return problems;
}
