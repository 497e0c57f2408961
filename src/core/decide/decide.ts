/**
 * Commands into the control plane and the decisions they lead to. PURE:
 * decide(state, command, now) → events to record, effects to run, or a named rejection.
 * It never mutates `state`; the single writer applies the returned events with `evolve`.
 * Each resource's deciders live in their own file; this is the one table that joins them.
 */
import type { ClusterState } from "../model/cluster-state.js";
import type { Command } from "./commands.js";
import type { Decider, Deciders, Decision } from "./decision.js";
import { agentReportDeciders } from "./agent-reports.js";
import { agentSessionDeciders } from "./agent-sessions.js";
import { execDeciders } from "./exec.js";
import { nodeIdentityDeciders } from "./node-identities.js";
import { nodeDeciders } from "./nodes.js";
import { rolloutDeciders } from "./rollouts.js";
import { secretDeciders } from "./secrets.js";
import { tokenDeciders } from "./tokens.js";
import { workloadDeciders } from "./workloads.js";

const deciders: Deciders = {
  ...workloadDeciders,
  ...rolloutDeciders,
  ...nodeDeciders,
  ...agentSessionDeciders,
  ...agentReportDeciders,
  ...tokenDeciders,
  ...secretDeciders,
  ...nodeIdentityDeciders,
  ...execDeciders,
};

/** Decides one command against the current state. */
export function decide(state: ClusterState, command: Command, now: number): Decision {
  return (deciders[command.type] as Decider<Command>)(state, command, now);
}
