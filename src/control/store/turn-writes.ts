/**
 * What one writer turn writes, whichever store holds it: the logged events (volatile ones are
 * not), and, from the state with them applied, every row they touched, rewritten or deleted.
 * Pure: each store runs it in one transaction, SQLite through its compiled statements (64 rows
 * to a run, sqlite/statements.ts), PostgreSQL one statement per table (postgres/recordset.ts).
 */
import type { ClusterEvent } from "../../core/events/cluster-events.js";
import type { ClusterState, NodeIdentity, TokenKind, TokenRecord } from "../../core/model/cluster-state.js";
import { isVolatile, loggedForm, touches } from "../../core/events/event-facts.js";
import { parseSecretId, type SecretKind, type SecretRecord } from "../../core/model/secrets.js";
import { eventToRow, instanceToRow, nodeToRow, workloadToRow } from "./rows.js";

export interface TurnWrites {
  /** In log order, with the row each is appended as. */
  events: { event: ClusterEvent; row: ReturnType<typeof eventToRow> }[];
  workloads: { upsert: ReturnType<typeof workloadToRow>[]; delete: string[] };
  instances: { upsert: ReturnType<typeof instanceToRow>[]; delete: string[] };
  nodes: ReturnType<typeof nodeToRow>[];
  /** Per token kind whose active set changed: when, and its active tokens (the others are revoked). */
  tokens: { kind: TokenKind; at: number; active: Array<{ hash: string } & TokenRecord> }[];
  /** Node identities that changed. */
  identities: Array<{ node: string } & NodeIdentity>;
  /** Secrets and configs whose versions changed: each one's rows are rewritten (or deleted: `record` undefined). */
  secrets: { kind: SecretKind; name: string; record: SecretRecord | undefined }[];
  /** Written when instances changed. */
  nextInstanceSeq: number | undefined;
  /** Written when the control plane started listening to agents (its node rows are all rewritten then). */
  listeningSince: number | undefined;
}

export function turnWrites(events: ClusterEvent[], state: ClusterState): TurnWrites {
  const logged = events.filter((e) => !isVolatile(e));
  const workloadKeys = new Set<string>();
  const instanceKeys = new Set<string>();
  const nodeKeys = new Set<string>();
  const tokenKinds = new Map<TokenKind, number>();
  let listening = false;
  const identityKeys = new Set<string>();
  const secretKeys = new Set<string>();
  // Nor are the rows only volatile events changed: a node's heartbeat time is written with
  // its next logged change.
  for (const e of logged) {
    const t = touches(e);
    if (t.workload) workloadKeys.add(t.workload);
    if (t.instance) instanceKeys.add(t.instance);
    if (t.node) nodeKeys.add(t.node);
    if (t.tokens) tokenKinds.set(t.tokens, e.at);
    if (t.listening) listening = true;
    if (t.identity) identityKeys.add(t.identity);
    if (t.secret) secretKeys.add(t.secret);
  }
  // Every agent stream closed: each node row says so, for a follower's snapshot.
  if (listening) for (const name of state.nodes.keys()) nodeKeys.add(name);
  const out: TurnWrites = {
    // What the log holds, readers of the stored events see too: never a payload.
    events: logged.map(loggedForm).map((event) => ({ event, row: eventToRow(event) })),
    workloads: { upsert: [], delete: [] },
    instances: { upsert: [], delete: [] },
    nodes: [],
    tokens: [...tokenKinds].map(([kind, at]) => ({ kind, at, active: [...state.tokens].filter(([, t]) => t.kind === kind).map(([hash, t]) => ({ hash, ...t })) })),
    identities: [...identityKeys].flatMap((node) => {
      const identity = state.nodeIdentities.get(node);
      return identity ? [{ node, ...identity }] : [];
    }),
    secrets: [...secretKeys].map((id) => ({ ...parseSecretId(id), record: state.secrets.get(id) })),
    nextInstanceSeq: instanceKeys.size > 0 ? state.nextInstanceSeq : undefined,
    listeningSince: listening ? state.listeningSince : undefined,
  };
  for (const name of workloadKeys) {
    const w = state.workloads.get(name);
    if (w) out.workloads.upsert.push(workloadToRow(w));
    else out.workloads.delete.push(name);
  }
  for (const id of instanceKeys) {
    const i = state.instances.get(id);
    if (i) out.instances.upsert.push(instanceToRow(i));
    else out.instances.delete.push(id);
  }
  for (const name of nodeKeys) {
    const n = state.nodes.get(name);
    if (n) out.nodes.push(nodeToRow(n));
  }
  return out;
}
