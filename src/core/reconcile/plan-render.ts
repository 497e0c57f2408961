/**
 * Renders a Plan as JSON Lines: one line for the tick, one per action, one per hold; the
 * instances left alone on unreachable (Suspect) nodes are coalesced into one line. PURE.
 */
import { isEmptyPlan, type Plan, summarize } from "./reconcile.js";

/** How many names a coalesced line lists before it only counts. */
const COALESCED_NAMES = 10;

export function renderPlanJsonl(plan: Plan): string[] {
  const lines: unknown[] = [{ tick: plan.at, converged: isEmptyPlan(plan), summary: summarize(plan) }];
  for (const h of plan.health) lines.push({ action: "health", ...h });
  for (const l of plan.markLost) lines.push({ action: "markLost", ...l });
  for (const p of plan.place) lines.push({ action: "place", ...p });
  for (const p of plan.pend) lines.push({ action: "pend", ...p });
  for (const w of plan.waiting) lines.push({ action: "waiting", ...w });
  for (const s of plan.schedule) lines.push({ action: "schedule", ...s });
  for (const s of plan.stop) lines.push({ action: "stop", ...s });
  for (const f of plan.forget) lines.push({ action: "forget", ...f });
  for (const r of plan.removeWorkload) lines.push({ action: "removeWorkload", workload: r.name });
  for (const f of plan.finish) lines.push({ action: "finish", workload: f.name, outcome: f.outcome, reason: f.reason });
  for (const e of plan.expire) lines.push({ action: "expire", workload: e.name });
  for (const c of plan.complete) lines.push({ action: "complete", workload: c.name, generation: c.generation });
  for (const r of plan.promote) lines.push({ action: "promote", workload: r.name });
  for (const r of plan.revert) lines.push({ action: "revert", workload: r.name, reason: r.reason });
  for (const st of plan.stalled) lines.push({ action: "stalled", workload: st.name, generation: st.generation, reason: st.reason });
  for (const w of plan.wave) lines.push({ action: "wave", workload: w.name, wave: w.wave, waves: w.waves });
  for (const h of plan.held) lines.push({ action: "held", workload: h.name, gate: h.gate, reason: h.reason });
  const unreachable = plan.skip.filter((s) => s.gate === "node-unreachable");
  for (const s of plan.skip) if (s.gate !== "node-unreachable") lines.push({ skip: s.gate, ...s, gate: undefined });
  if (unreachable.length > 0) {
    const nodes = [...new Set(unreachable.map((s) => s.node))].sort();
    lines.push({ skip: "node-unreachable", instances: unreachable.length, nodes: nodes.length, names: nodes.slice(0, COALESCED_NAMES) });
  }
  return lines.map((l) => JSON.stringify(l));
}
