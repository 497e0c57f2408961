/**
 * A workload's template eras: which template the copies of each generation run. Copies carry
 * the generation they were made at; an era says that from its generation on (until the next
 * era's) copies run its template, named by the generation that template was first applied at.
 * Going back to a template some copies still run (`rollout undo`, auto_revert) names it the same
 * again, so those copies stay current, whatever came between. PURE.
 */
import type { WorkloadSpec } from "../../gen/tessera/v1/types.js";
import type { Instance, TemplateEra, Workload } from "./cluster-state.js";
import { sameTemplate } from "./spec.js";

/** The era a copy of `generation` was made in: the last one starting at or before it. */
export function eraOf(eras: readonly TemplateEra[], generation: number): TemplateEra | undefined {
  for (let k = eras.length - 1; k >= 0; k--) if (eras[k]!.from <= generation) return eras[k];
  return undefined;
}

/** The template a copy of `generation` runs; undefined for one older than every era (none is current). */
export function templateOf(w: Workload, generation: number): number | undefined {
  return eraOf(w.eras, generation)?.template;
}

/** The newest era whose copies run `spec`'s template: going back to it keeps them. */
export function eraRunning(eras: readonly TemplateEra[], spec: WorkloadSpec): TemplateEra | undefined {
  for (let k = eras.length - 1; k >= 0; k--) if (sameTemplate(eras[k]!.spec, spec)) return eras[k];
  return undefined;
}

/** The newest era of template `template`. */
export function eraOfTemplate(eras: readonly TemplateEra[], template: number): TemplateEra | undefined {
  for (let k = eras.length - 1; k >= 0; k--) if (eras[k]!.template === template) return eras[k];
  return undefined;
}

/**
 * The eras after a change of template, bounded: those some copy (of `copies`) was made in, the
 * newest, the newest of `stable`'s template (what a held canary's old copies keep) and the one
 * before the newest (what they keep without a completed rollout), then `next`. Dropping an era
 * no copy was made in changes no copy's template.
 */
export function nextEras(eras: readonly TemplateEra[], copies: readonly Instance[], stable: number | undefined, next: TemplateEra): TemplateEra[] {
  const keep = new Set<TemplateEra>(eras.slice(-2));
  const kept = stable === undefined ? undefined : eraOfTemplate(eras, stable);
  if (kept) keep.add(kept);
  for (const i of copies) {
    const era = eraOf(eras, i.generation);
    if (era) keep.add(era);
  }
  return [...eras.filter((e) => keep.has(e)), next];
}

/**
 * The eras of a workload stored before eras were recorded, from what was: copies from its
 * template generation on run the current template, but those of a reverted range (the template
 * gone back from, `previousSpec`).
 */
export function erasBefore(w: Pick<Workload, "spec" | "templateGeneration" | "reverted" | "previousSpec">): TemplateEra[] {
  const current = { from: w.templateGeneration, template: w.templateGeneration, spec: w.spec };
  if (w.reverted === null || w.previousSpec === null) return [current];
  return [current, { from: w.reverted.from, template: w.reverted.from, spec: w.previousSpec }, { ...current, from: w.reverted.to + 1 }];
}
