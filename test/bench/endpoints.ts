/**
 * Benchmark 8, endpoints: a copy becomes Ready → its endpoint arrives on a WatchEndpoints
 * stream, with one simulated agent advertising loopback and a dynamic range; against the floor,
 * a bare grpc-js unary round trip over TLS, sampled alternately in the same process.
 *
 * "Ready" is when the agent's executor has started the copy: the agent reports it Running at
 * once, and with no readiness checks a running copy is Ready. The agent runs in a worker process
 * (agent-fleet.ts), which stamps that moment on the clock both processes share, so it is compared
 * with the watch's arrival whatever the worker's message took to come.
 */
import { BenchCluster, LOOPBACK_PORTS } from "./fleet.js";
import { startFloor } from "./floor.js";
import { cells, percentile, round, type Section, stats, verdict } from "./report.js";

const GOAL_RATIO = 2;

export interface EndpointsRun {
  /** Percentiles of copy Ready (started by the agent) → its endpoint Ready on the watch, ms. */
  readyP50: number;
  readyP99: number;
  readyMax: number;
  /** Percentiles of the apply call → the endpoint on the watch (what a client sees end to end), ms. */
  applyP50: number;
  applyMax: number;
  /** The same percentiles of the bare round trip, ms. */
  floorP50: number;
  floorP99: number;
  floorMax: number;
}

/** `batches` × `samples` alternating samples on one cluster and one endpoints watch; one EndpointsRun per batch. */
export async function runEndpoints(batches: number, samples: number): Promise<EndpointsRun[]> {
  const c = await BenchCluster.start(1, LOOPBACK_PORTS);
  const floor = await startFloor(c.controlDir);
  try {
    await c.watchEndpoints();
    const out: EndpointsRun[] = [];
    for (let b = 0; b < batches; b++) {
      const ready: number[] = [];
      const apply: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < samples; i++) {
        base.push(await floor.roundTrip());
        const name = `ep-${b}-${i}`;
        const started = c.untilCopyStarted(name);
        const seen = c.untilEndpointReady(name);
        const t0 = performance.now();
        await c.applyWithPort(name);
        const [startedAt, seenAt] = await Promise.all([started, seen]);
        ready.push(seenAt - startedAt);
        apply.push(seenAt - t0);
        // Untimed: every sample meets the same control plane, one node, no other workload and
        // the same free ports (the copy's port is freed with it).
        await c.remove(name);
      }
      out.push({
        readyP50: percentile(ready, 50),
        readyP99: percentile(ready, 99),
        readyMax: Math.max(...ready),
        applyP50: percentile(apply, 50),
        applyMax: Math.max(...apply),
        floorP50: percentile(base, 50),
        floorP99: percentile(base, 99),
        floorMax: Math.max(...base),
      });
    }
    return out;
  } finally {
    floor.close();
    await c.stop();
  }
}

/** Enough for a p99 that is not the maximum: 9 samples lie above it. */
const SAMPLES = 1_000;

export async function benchEndpoints(runs: number): Promise<Section> {
  const batches = await runEndpoints(runs, SAMPLES);
  const of = (key: keyof EndpointsRun) => stats(batches.map((b) => b[key]));
  const s = {
    readyP50Ms: of("readyP50"),
    readyP99Ms: of("readyP99"),
    readyMaxMs: of("readyMax"),
    applyP50Ms: of("applyP50"),
    applyMaxMs: of("applyMax"),
    floorP50Ms: of("floorP50"),
    floorP99Ms: of("floorP99"),
    floorMaxMs: of("floorMax"),
  };
  const ratio = round(s.readyP50Ms.median / s.floorP50Ms.median, 1);
  return {
    name: "endpoints",
    order: 8,
    results: { samplesPerRun: SAMPLES, goalRatio: GOAL_RATIO, ...s, ratio, batches },
    markdown: `## 8. Endpoints: a copy Ready → its endpoint seen by a watcher, one simulated agent

One WatchEndpoints stream is held open for the whole run. Each sample applies a one-replica
workload asking for one dynamic port; the interval measured runs from the moment the agent has
started the copy (it reports it Running at once, and with no readiness checks a running copy is
Ready; the agent runs in a worker process of the benchmark, which stamps the moment on the clock
both share, so the worker's message to the benchmark adds nothing) until the
endpoint, Ready, arrives on the watch: the agent's report, the control plane's writer turn and
its push to the watcher. The apply call → the endpoint row is the whole path a client sees, for
context. ${SAMPLES.toLocaleString("en")} samples per run, alternating with the floor (a bare grpc-js unary round trip over TLS,
in the same process); each workload is deleted (untimed) before the next sample. The table gives
the median over runs of each run's percentile; the p99 is the nearest rank (${SAMPLES - Math.floor(0.99 * SAMPLES) - 1} samples of each run
lie above it); the max is one event, given but not compared.

| measure | median | min | max | × floor | goal |
|---|---|---|---|---|---|
| copy Ready → endpoint seen, p50 | ${cells(s.readyP50Ms, "ms")} | ${ratio} | ≤ ${GOAL_RATIO}× ${verdict(ratio <= GOAL_RATIO)} |
| copy Ready → endpoint seen, p99 | ${cells(s.readyP99Ms, "ms")} | ${round(s.readyP99Ms.median / s.floorP99Ms.median, 1)} | |
| copy Ready → endpoint seen, max | ${cells(s.readyMaxMs, "ms")} | | |
| apply call → endpoint seen, p50 | ${cells(s.applyP50Ms, "ms")} | ${round(s.applyP50Ms.median / s.floorP50Ms.median, 1)} | |
| apply call → endpoint seen, max | ${cells(s.applyMaxMs, "ms")} | | |
| floor: bare unary round trip, p50 | ${cells(s.floorP50Ms, "ms")} | 1 | |
| floor: bare unary round trip, p99 | ${cells(s.floorP99Ms, "ms")} | 1 | |
| floor: bare unary round trip, max | ${cells(s.floorMaxMs, "ms")} | | |
`,
  };
}
