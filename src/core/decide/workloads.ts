/**
 * Deciding what is asked of workloads: apply (one or several, all or nothing), delete,
 * restart. PURE.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { ClusterState, Workload } from "../model/cluster-state.js";
import type { ClusterEvent } from "../events/cluster-events.js";
import { resolveSpec, sameTemplate } from "../model/spec.js";
import { runName } from "../model/schedule.js";
import { runStarted } from "../events/run-started.js";
import { instanceTemplate } from "../model/spec.js";
import { eraRunning } from "../model/template-eras.js";
import type { Rejection } from "../model/rejections.js";
import { validateName, validateWorkload } from "../model/validate.js";
import { refreshOf, withCurrentVersions } from "../model/secret-use.js";
import type { Effect } from "../model/effects.js";
import type { CommandOf } from "./commands.js";
import { accept, type ApplyOutcome, type Decision, type Deciders, refuse } from "./decision.js";

/** Deep equality for plain JSON-like values (specs and label maps). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Going back to a template copies still run (`rollout undo`, to any revision, or that spec
 * applied again): that template's name, so the copies running it stay current (as auto_revert
 * keeps them) and only the others are replaced (invariant 30). Undefined for a new template.
 */
function keptFrom(prior: Workload | undefined, spec: WorkloadSpec): number | undefined {
  return prior === undefined ? undefined : eraRunning(prior.eras, spec)?.template;
}

/** A refusal of one workload of an ApplyWorkloads, located: `workload.spec` → `workloads[3].spec`. */
function atIndex(r: Rejection, i: number): Rejection {
  return r.kind === "InvalidArgument" ? { ...r, field: r.field.replace(/^workload\b/, `workloads[${i}]`) } : r;
}

/**
 * Validates an apply and records what it changes: a new generation for a changed spec, none for
 * labels alone. The spec runs with the current versions of the secrets and configs it uses,
 * unless it is a revision's own (`rollout undo`: "recorded", the versions it ran with).
 */
export function applyWorkload(state: ClusterState, c: CommandOf<"ApplyWorkload">, now: number, versions: "current" | "recorded" = "current"): Decision {
  const problems = validateWorkload({ name: c.name, labels: c.labels, spec: c.spec });
  if (problems.length > 0) return refuse(problems[0]!);
  return applySpec(state, c, versions === "current" ? withCurrentVersions(state.secrets, c.spec!) : c.spec!, now);
}

/** An apply of a valid spec as it is (a secret's new version rolled out: secrets.ts). */
export function applySpec(state: ClusterState, c: Omit<CommandOf<"ApplyWorkload">, "spec">, spec: WorkloadSpec, now: number): Decision {
  const prior = state.workloads.get(c.name);
  if (prior?.deleting) return refuse({ kind: "WorkloadDeleting", name: c.name });
  const failed = prior?.quarantined.find((q) => sameTemplate(q.spec, spec));
  if (failed !== undefined && !c.force) return refuse({ kind: "QuarantinedSpec", name: c.name, generation: failed.generation, reason: failed.reason });
  const specChanged = prior === undefined || !sameValue(prior.spec, spec);
  if (!specChanged && sameValue(prior.labels, c.labels)) return accept([], [], "unchanged");
  const generation = prior === undefined ? 1 : specChanged ? prior.generation + 1 : prior.generation;
  const templateChanged = prior === undefined || !sameValue(instanceTemplate(prior.spec), instanceTemplate(spec));
  const templateGeneration = templateChanged ? (keptFrom(prior, spec) ?? generation) : prior.templateGeneration;
  const workload: Extract<ClusterEvent, { type: "WorkloadApplied" }>["workload"] = {
    name: c.name,
    labels: c.labels,
    spec,
    generation,
    templateGeneration,
  };
  // What runs changes: remember what ran before, for `rollout undo`.
  const previousSpec = prior !== undefined && templateChanged ? prior.spec : undefined;
  const refreshes = prior !== undefined && !templateChanged ? refreshSecrets(state, prior, spec, generation) : [];
  return accept([{ type: "WorkloadApplied", at: now, workload, ...(previousSpec ? { previousSpec } : {}), ...(failed ? { forced: true as const } : {}) }], refreshes, prior === undefined ? "created" : specChanged ? "configured" : "relabeled");
}

/** New versions of what a workload's copies use, under on_change SIGNAL or NONE: each copy placed to run (its start sent, or running) is sent them in place (secret-use.ts refreshOf). */
function refreshSecrets(state: ClusterState, prior: Workload, spec: WorkloadSpec, generation: number): Effect[] {
  if (sameValue(prior.spec.secretVersions ?? {}, spec.secretVersions ?? {})) return [];
  return [...state.instances.values()]
    .filter((i) => i.workload === prior.name && i.desired === "run" && i.node !== null && (i.state === "scheduled" || i.state === "running"))
    .flatMap((i) => refreshOf({ id: i.id, node: i.node! }, spec, generation) ?? []);
}

export const workloadDeciders = {
  ApplyWorkloads(state, c, now) {
    if (c.workloads.length === 0) return refuse({ kind: "InvalidArgument", field: "workloads", expected: "at least one workload" });
    const seen = new Set<string>();
    const events: ClusterEvent[] = [];
    const effects: Effect[] = [];
    const appliedEach: ApplyOutcome[] = [];
    for (const [i, w] of c.workloads.entries()) {
      if (seen.has(w.name)) return refuse({ kind: "InvalidArgument", field: `workloads[${i}].name`, expected: `a name not used earlier in the request, got "${w.name}" again` });
      seen.add(w.name);
      // Distinct names: each decision reads only its own workload, so all can read `state`.
      const d = applyWorkload(state, { type: "ApplyWorkload", ...w, force: c.force }, now);
      if (d.rejection) return refuse(atIndex(d.rejection, i));
      events.push(...d.events);
      effects.push(...d.effects);
      appliedEach.push(d.applied!);
    }
    return { events, effects, appliedEach };
  },
  ApplyWorkload: applyWorkload,

  DeleteWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (w.deleting) return accept();
    return accept([{ type: "WorkloadDeleteRequested", at: now, name: c.name }]);
  },

  RestartWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (w.deleting) return refuse({ kind: "WorkloadDeleting", name: c.name });
    // Every instance that exists now is replaced; ones created from here on are not.
    return accept([{ type: "WorkloadRestartRequested", at: now, name: c.name, restartSeq: state.nextInstanceSeq }]);
  },

  RunWorkload(state, c, now) {
    const nameProblem = validateName(c.name);
    if (nameProblem) return refuse(nameProblem);
    const w = state.workloads.get(c.name);
    if (!w) return refuse({ kind: "UnknownWorkload", name: c.name });
    if (w.deleting) return refuse({ kind: "WorkloadDeleting", name: c.name });
    if (resolveSpec(w.spec).periodic === undefined) return refuse({ kind: "NotPeriodic", name: c.name });
    // Named after the second it starts, as a run on schedule is after the second it was due.
    const due = Math.floor(now / 1_000) * 1_000;
    const run = runName(c.name, due, true);
    if (state.workloads.has(run)) return refuse({ kind: "RunExists", name: c.name, run });
    return accept(runStarted(w, run, now, due, true));
  },
} satisfies Partial<Deciders>;
