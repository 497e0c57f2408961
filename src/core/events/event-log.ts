/**
 * The event log's record format: every event carries the schema version it was written
 * with. `readLog` refuses records it cannot interpret instead of guessing. PURE.
 */
import { isEventType } from "./event-facts.js";
import { type ClusterEvent, EVENT_VERSION } from "./cluster-events.js";
import { evolve } from "./evolve.js";
import { type ClusterState, emptyState } from "../model/cluster-state.js";

export type LoggedEvent = ClusterEvent & { v: number };

export function toLogged(event: ClusterEvent): LoggedEvent {
  return { v: EVENT_VERSION, ...event };
}

/** Checks one record's version and type; `where` names it in errors (e.g. "line 12"). */
export function fromLogged(record: unknown, where: string): ClusterEvent {
  if (typeof record !== "object" || record === null) throw new Error(`${where}: expected an event object`);
  const { v, ...event } = record as Record<string, unknown>;
  if (v !== EVENT_VERSION) throw new Error(`${where}: event schema version ${String(v)} is not supported (this build reads version ${EVENT_VERSION})`);
  if (typeof event.type !== "string" || !isEventType(event.type)) throw new Error(`${where}: unknown event type ${JSON.stringify(event.type)}`);
  if (typeof event.at !== "number") throw new Error(`${where}: event has no numeric "at"`);
  return event as unknown as ClusterEvent;
}

/** Folds a log from an empty state; an event that does not fit the state so far is named. */
export function replayLog(records: Iterable<unknown>): ClusterState {
  const state = emptyState();
  let n = 0;
  for (const record of records) {
    n++;
    const event = fromLogged(record, `event ${n}`);
    try {
      evolve(state, event);
    } catch (err) {
      throw new Error(`event ${n} (${event.type}): ${(err as Error).message}`);
    }
  }
  return state;
}
