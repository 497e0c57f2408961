/**
 * Benchmark 14, snapshots (issue 34): `tessera ctl snapshot save` of a SQLite store holding
 * 100,000 workloads, and how long the writer is held meanwhile. The store is filled once per
 * benchmark through the API (ApplyWorkloads, 500 per call, 4 in flight: the control plane's own
 * path to every row and event). Then each run, two probes, first alone (their baseline) and then
 * while the snapshot is taken:
 * - turns: one workload applied again unchanged, one call at a time. Each goes through the
 *   writer's queue and a turn of its own like any command, but the core accepts it as
 *   "unchanged" with no event, so it triggers no reconcile pass (one over 100,000 workloads
 *   takes a hundred milliseconds or more); the longest one overlapping the snapshot is how
 *   long the writer could not take a turn. The writer's own reconcile passes (the periodic
 *   one, and those after the commit probe's writes) hold it too, with or without a snapshot:
 *   from the control plane's debug log (each pass's end and length), the longest turn less the
 *   passes within it is what held the writer besides them: the snapshot, and the machine.
 * - commits: a new revision of another workload every COMMIT_EVERY_MS, committed to the store
 *   (and reconciled after): that writes go on during the snapshot, and how long they took.
 * Floor for the snapshot's time: SQLite's copy alone, VACUUM INTO of the same database by this
 * process, in the same run.
 */
import { Database } from "bun:sqlite";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ControlPlaneClient } from "../../src/gen/tessera/v1/control_plane.js";
import { Workload } from "../../src/gen/tessera/v1/types.js";
import { adminChannel, Harness, requireBinary } from "../e2e/harness.js";
import { pool } from "./fleet.js";
import { cells, percentile, round, type Section, type Stats, stats, verdict } from "./report.js";

const BATCH = 500;
const IN_FLIGHT = 4;
/** How long the probes run alone before each snapshot (their baseline): longer than the writer's 2 s periodic pass. */
const BASELINE_MS = 3_000;
/** How often the commit probe writes a new revision. */
const COMMIT_EVERY_MS = 1_000;

export interface SnapshotRun {
  /** `tessera ctl snapshot save` from spawn to exit, ms. */
  saveMs: number;
  /** Its SaveSnapshot call as the control plane logged it (taking the snapshot and streaming it), ms. */
  rpcMs: number;
  /** The same save again with no probe running, ms. */
  quietSaveMs: number;
  /** VACUUM INTO of the same database by this process, ms. */
  copyFloorMs: number;
  fileMib: number;
  /** Turn probes overlapping the snapshot: the longest (the writer held), their median and count. */
  heldMs: number;
  /** The longest of those less the reconcile passes within it: what held the writer besides them. */
  heldBeyondPassesMs: number;
  /** The longest reconcile pass during the snapshot. */
  passDuringMax: number;
  turnDuringP50: number;
  turnsDuring: number;
  /** Commit probes overlapping the snapshot: the longest and their count. */
  commitDuringMax: number;
  commitsDuring: number;
  /** The same probes alone. */
  heldAloneMs: number;
  heldAloneBeyondPassesMs: number;
  passAloneMax: number;
  turnAloneP50: number;
  commitAloneMax: number;
}

/** Workloads of no replicas: what is stored is the point, and nothing is placed. */
const workload = (name: string, args: string[] = ["3600"]) => Workload.fromPartial({ name, spec: { command: "/bin/sleep", args, replicas: 0 } });

type Span = { start: number; end: number };
const lengths = (spans: Span[]) => spans.map((s) => s.end - s.start);
/** The spans overlapping [from, to). */
const overlapping = (spans: Span[], from: number, to: number) => spans.filter((s) => s.end > from && s.start < to);
/** The log's times are wall-clock milliseconds; a pass's span is widened by this much either side. */
const LOG_MARGIN_MS = 2;

/** The reconcile passes the control plane logged (debug level), as spans on this process's clock. */
function passes(logs: Array<Record<string, unknown>>): Span[] {
  return logs
    .filter((l) => l.msg === "reconcile")
    .map((l) => {
      const end = Date.parse(String(l.time)) - performance.timeOrigin + LOG_MARGIN_MS;
      return { start: end - Number(l.ms) - 2 * LOG_MARGIN_MS, end };
    });
}
/**
 * The longest of `spans` less the time reconcile passes took within it (a turn waiting behind a
 * pass waited for the pass, and for whatever else held the writer besides), and the longest of
 * the passes overlapping [from, to).
 */
function beyondPasses(spans: Span[], all: Span[], from: number, to: number): { held: number; pass: number } {
  const inWindow = overlapping(all, from, to);
  const within = (s: Span) => overlapping(inWindow, s.start, s.end).reduce((sum, p) => sum + Math.min(s.end, p.end) - Math.max(s.start, p.start), 0);
  return { held: Math.max(0, ...spans.map((s) => s.end - s.start - within(s))), pass: Math.max(0, ...lengths(inWindow)) };
}

export async function runSnapshot(workloads: number, runs: number): Promise<{ fillMs: number; runs: SnapshotRun[] }> {
  requireBinary();
  const h = new Harness("tessera-bench-snapshot-");
  try {
    // Debug: its reconcile lines tell when each pass ran (see passes()).
    const { server, address } = await h.startControl("127.0.0.1:0", { TESSERA_LOG: "debug" });
    const controlDir = join(h.dir, "control");
    const { creds, options } = adminChannel(controlDir);
    const client = new ControlPlaneClient(address, creds, options);
    const apply = (w: Workload[]) => new Promise<void>((resolve, reject) => client.applyWorkloads({ workloads: w }, (err) => (err ? reject(err) : resolve())));
    const f0 = performance.now();
    await pool(IN_FLIGHT, Math.ceil(workloads / BATCH), (b) => apply(Array.from({ length: Math.min(BATCH, workloads - b * BATCH) }, (_, i) => workload(`w-${b * BATCH + i}`))));
    const fillMs = performance.now() - f0;
    console.log(`filled ${workloads} workloads in ${(fillMs / 1000).toFixed(1)} s`);
    await apply([workload("probe-turns")]);

    let revision = 0;
    /** Both probes until `done`: the spans of their calls. */
    const probe = async (done: () => boolean) => {
      const turns: Span[] = [];
      const commits: Span[] = [];
      const timed = async (into: Span[], w: Workload) => {
        const start = performance.now();
        await apply([w]);
        into.push({ start, end: performance.now() });
      };
      await Promise.all([
        (async () => {
          while (!done()) await timed(turns, workload("probe-turns"));
        })(),
        (async () => {
          while (!done()) {
            const next = performance.now() + COMMIT_EVERY_MS;
            await timed(commits, workload("probe-commits", [String(++revision)]));
            await Bun.sleep(Math.max(0, next - performance.now()));
          }
        })(),
      ]);
      return { turns, commits };
    };
    const out: SnapshotRun[] = [];
    for (let r = 0; r < runs; r++) {
      const alone0 = performance.now();
      const alone = await probe(() => performance.now() - alone0 >= BASELINE_MS);
      const alone1 = performance.now();

      const file = join(h.dir, `run-${r}.snap`);
      let saving = true;
      const probing = probe(() => !saving);
      const s0 = performance.now();
      const saved = await h.run(["ctl", "snapshot", "save", file], { TESSERA_CONTROL: address, TESSERA_DATA_DIR: controlDir });
      const s1 = performance.now();
      saving = false;
      const during = await probing;
      if (saved.code !== 0) throw new Error(`ctl snapshot save exited with ${saved.code}: ${saved.stderr}`);
      const rpcMs = Number(server.logs.findLast((l) => l.msg === "rpc" && l.method === "SaveSnapshot")?.ms);
      const duringSpans = overlapping(during.turns, s0, s1);
      const turns = lengths(duringSpans);
      // The log's lines are read once the windows are over: the control plane may write them a moment late.
      const logged = passes(server.logs);
      const bySnapshot = beyondPasses(duringSpans, logged, s0, s1);
      const byAlone = beyondPasses(alone.turns, logged, alone0, alone1);
      const commits = lengths(overlapping(during.commits, s0, s1));
      const fileMib = statSync(file).size / 2 ** 20;
      rmSync(file);
      const q0 = performance.now();
      const quiet = await h.run(["ctl", "snapshot", "save", file], { TESSERA_CONTROL: address, TESSERA_DATA_DIR: controlDir });
      const quietSaveMs = performance.now() - q0;
      if (quiet.code !== 0) throw new Error(`ctl snapshot save exited with ${quiet.code}: ${quiet.stderr}`);
      rmSync(file);

      const copy = join(h.dir, `floor-${r}.db`);
      const c0 = performance.now();
      const reader = new Database(join(controlDir, "tessera.db"), { readonly: true });
      reader.run("VACUUM INTO ?", [copy]);
      reader.close();
      const copyFloorMs = performance.now() - c0;
      const db = new Database(copy, { readonly: true });
      const stored = db.query<{ n: number }, []>("SELECT count(*) AS n FROM workloads").get()!.n;
      db.close();
      rmSync(copy);
      if (stored < workloads) throw new Error(`the store holds ${stored} workloads, expected at least ${workloads}`);

      const run: SnapshotRun = {
        saveMs: s1 - s0,
        rpcMs,
        quietSaveMs,
        copyFloorMs,
        fileMib,
        heldMs: Math.max(0, ...turns),
        heldBeyondPassesMs: bySnapshot.held,
        passDuringMax: bySnapshot.pass,
        turnDuringP50: turns.length > 0 ? percentile(turns, 50) : 0,
        turnsDuring: turns.length,
        commitDuringMax: Math.max(0, ...commits),
        commitsDuring: commits.length,
        heldAloneMs: Math.max(...lengths(alone.turns)),
        heldAloneBeyondPassesMs: byAlone.held,
        passAloneMax: byAlone.pass,
        turnAloneP50: percentile(lengths(alone.turns), 50),
        commitAloneMax: Math.max(...lengths(alone.commits)),
      };
      console.log(
        `run ${r + 1}/${runs}: save ${run.saveMs.toFixed(0)} ms (the call ${rpcMs.toFixed(0)} ms, again with no probe ${quietSaveMs.toFixed(0)} ms, copy floor ${copyFloorMs.toFixed(0)} ms, ${fileMib.toFixed(1)} MiB); longest turn during it ${run.heldMs.toFixed(1)} ms of ${turns.length}, beyond passes ${run.heldBeyondPassesMs.toFixed(1)} ms (alone ${run.heldAloneMs.toFixed(1)} and ${run.heldAloneBeyondPassesMs.toFixed(1)} ms), longest pass ${run.passDuringMax.toFixed(0)} ms, longest commit ${run.commitDuringMax.toFixed(1)} ms of ${commits.length} (alone ${run.commitAloneMax.toFixed(1)} ms)`,
      );
      out.push(run);
    }
    client.close();
    return { fillMs, runs: out };
  } finally {
    await h.stop();
  }
}

const WORKLOADS = 100_000;
const GOAL_SAVE_MS = 2_000;
const GOAL_HELD_MS = 50;

export async function benchSnapshot(runs: number): Promise<Section> {
  const { fillMs, runs: all } = await runSnapshot(WORKLOADS, runs);
  const of = (key: keyof SnapshotRun) => stats(all.map((r) => r[key]));
  const s = Object.fromEntries(Object.keys(all[0]!).map((k) => [k, of(k as keyof SnapshotRun)])) as Record<keyof SnapshotRun, Stats>;
  const ratio = (x: Stats, base: Stats) => round(x.median / base.median, 1);
  return {
    name: "snapshot",
    order: 14,
    results: { workloads: WORKLOADS, fillMs: round(fillMs), baselineWindowMs: BASELINE_MS, commitEveryMs: COMMIT_EVERY_MS, goalSaveMs: GOAL_SAVE_MS, goalHeldMs: GOAL_HELD_MS, ...s, runs: all },
    markdown: `## 14. Snapshots: \`tessera ctl snapshot save\` of ${WORKLOADS.toLocaleString("en")} workloads, and the writer meanwhile

A control plane on SQLite (dist/tessera) holding ${WORKLOADS.toLocaleString("en")} workloads of no replicas, applied once
through ApplyWorkloads (${BATCH} per call, ${IN_FLIGHT} in flight; ${round(fillMs / 1000, 1)} s), so the rows and events are the ones
the writer records. The save is timed from the spawn of \`tessera ctl snapshot save\` to its exit
(leader lookup, the copy, the stream into a file, its check), while the probes below run (the
goal is judged on that one) and once more with none. Its floor: VACUUM INTO of the same
database by the benchmark's process, in the same run.

Two probes run meanwhile, and alone for ${BASELINE_MS / 1000} s before each save (their baseline, which spans at
least one of the writer's periodic 2 s passes). Turns: one workload applied again unchanged, one
call at a time: each takes the writer's queue and a turn like any command, but writes nothing
and so triggers no reconcile pass; the longest call overlapping the save is how long the writer
could not take a turn. The writer's own reconcile passes hold it too, snapshot or not (the
periodic one, and one after each commit probe): the control plane runs at debug level so that
its log gives each pass's end and length, and the longest turn less the passes within it is what
held the writer besides them (the save, and the machine: compare the baseline); the goal is
judged on that one, and the passes are given beside it.
Commits: a new revision of another workload every ${COMMIT_EVERY_MS} ms, written to the store and
reconciled after.

| measure | median | min | max | × baseline | goal |
|---|---|---|---|---|---|
| \`ctl snapshot save\` | ${cells(s.saveMs, "ms")} | ${ratio(s.saveMs, s.copyFloorMs)} × floor | ≤ ${GOAL_SAVE_MS} ms ${verdict(s.saveMs.median <= GOAL_SAVE_MS)} |
| … of which the SaveSnapshot call, as the control plane logs it (the snapshot taken, then streamed) | ${cells(s.rpcMs, "ms")} | ${ratio(s.rpcMs, s.copyFloorMs)} × floor | |
| \`ctl snapshot save\` again, no probe running | ${cells(s.quietSaveMs, "ms")} | ${ratio(s.quietSaveMs, s.copyFloorMs)} × floor | |
| floor: VACUUM INTO of the database alone | ${cells(s.copyFloorMs, "ms")} | 1 | |
| snapshot file | ${cells(s.fileMib, "MiB")} | | |
| writer held by the save: longest turn probe during it, less the reconcile passes within it | ${cells(s.heldBeyondPassesMs, "ms")} | ${ratio(s.heldBeyondPassesMs, s.heldAloneBeyondPassesMs)} | ≤ ${GOAL_HELD_MS} ms ${verdict(s.heldBeyondPassesMs.median <= GOAL_HELD_MS)} |
| writer held, all causes: longest turn probe during the save | ${cells(s.heldMs, "ms")} | ${ratio(s.heldMs, s.heldAloneMs)} | |
| longest reconcile pass during the save (100,000 workloads) | ${cells(s.passDuringMax, "ms")} | ${ratio(s.passDuringMax, s.passAloneMax)} | |
| turn probe during the save, p50 | ${cells(s.turnDuringP50, "ms")} | ${ratio(s.turnDuringP50, s.turnAloneP50)} | |
| turn probes during the save | ${cells(s.turnsDuring, "")} | | |
| commit probe during the save, longest | ${cells(s.commitDuringMax, "ms")} | ${ratio(s.commitDuringMax, s.commitAloneMax)} | |
| commit probes during the save | ${cells(s.commitsDuring, "")} | | |
| baseline: longest turn probe alone, less the passes within it | ${cells(s.heldAloneBeyondPassesMs, "ms")} | 1 | |
| baseline: longest turn probe, alone | ${cells(s.heldAloneMs, "ms")} | 1 | |
| baseline: longest reconcile pass, alone | ${cells(s.passAloneMax, "ms")} | 1 | |
| baseline: turn probe alone, p50 | ${cells(s.turnAloneP50, "ms")} | 1 | |
| baseline: longest commit probe, alone | ${cells(s.commitAloneMax, "ms")} | 1 | |
`,
  };
}
