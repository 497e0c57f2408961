/**
 * The fleet at an earlier event, for the web page's time slider (GET /api/at): the log folded
 * through the core's evolve (invariant 8: folding the log rebuilds the live state), from the
 * nearest state kept on the way by an earlier request. Only while retention has dropped
 * nothing. The last answer is kept too: a slider resting on one event asks once.
 */
import { fleetSnapshot } from "../../core/views/fleet-view.js";
import { ReplayCheckpoints } from "../../core/events/replay-checkpoints.js";
import type { EventHistory } from "../store/store.js";

/** Events read from the log per page when rebuilding the past. */
const REPLAY_PAGE = 5_000;
/**
 * States of the past kept for the time slider: one per this many events at first, at most this
 * many (each a whole fleet: ~10,000 copies' records), spread wider as the log grows.
 */
const CHECKPOINT_EVERY = 1_000;
const CHECKPOINTS_KEPT = 16;

const answer = (body: string, status = 200) => new Response(body, { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
const refusal = (error: string, status: number) => answer(JSON.stringify({ error }), status);

/**
 * What answers for the fleet right after event `seq`, asked by the caller `key` (a token's
 * hash). One fold at a time per caller: each holds a fleet's state, and a caller asking again
 * before its last is answered is refused (429).
 */
export function pastFleets(history: EventHistory): (seq: number, key: string) => Promise<Response> {
  const checkpoints = new ReplayCheckpoints(CHECKPOINT_EVERY, CHECKPOINTS_KEPT);
  let last: { seq: number; body: string } | undefined;
  const replaying = new Set<string>();
  return async (seq, key) => {
    const newest = history.newestSeq();
    if (!Number.isInteger(seq) || seq < 1 || seq > newest) return refusal(`seq: expected a whole number from 1 to ${newest}`, 400);
    if (last?.seq === seq) return answer(last.body);
    if (replaying.has(key)) return refusal("seq: this token's last request for the past is still being rebuilt; ask again when it is answered", 429);
    replaying.add(key);
    try {
      const oldest = await history.oldestSeq();
      if (oldest > 1) return refusal(`seq: retention dropped the log's first ${oldest - 1} events; the past cannot be rebuilt`, 409);
      const fold = checkpoints.from(seq);
      while (fold.seq < seq) {
        const page = await history.eventsAfter(fold.seq, Math.min(REPLAY_PAGE, seq - fold.seq));
        if (page.length === 0) break;
        for (const e of page) if (e.seq <= seq) fold.step(e.seq, e.event);
        if (page.at(-1)!.seq >= seq) break;
      }
      last = { seq, body: JSON.stringify(fleetSnapshot(fold.state, seq)) };
      return answer(last.body);
    } finally {
      replaying.delete(key);
    }
  };
}
