/**
 * The containers benchmark: from one CLI call to N busybox containers running `sleep 3600`,
 * Tessera's Docker executor against `docker service create` in Docker Swarm mode, on the same
 * engine with the same image and limits. Used by `make bench` (20 replicas, several runs) and
 * by a smoke test (a few replicas, once).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { dockerAvailable, ensureImage, IMAGE, sh } from "../e2e/docker-engine.js";
import { eventually, Harness, requireBinary } from "../e2e/harness.js";
import { cells, round, type Section, stats, verdict } from "./report.js";

/**
 * Every side is polled at this interval with the Engine API's container list (what `docker ps`
 * asks for), from this process: the docker CLI costs ~10 ms of CPU per call, and spawning it 20
 * times a second took a fifth of a core while the engine was busy starting containers.
 */
const POLL_MS = 50;
const REACH_TIMEOUT_MS = 60_000;
/** Limits every container gets on both sides, so the engine does the same work for each. */
const CPU_MILLIS = 100;
const MEMORY_MB = 64;
/** `sleep` as PID 1 ignores SIGTERM, so removal waits out the grace period: keep it short on both sides. */
const GRACE_S = 1;
const NODE = "bench-containers";
/**
 * After a side's containers are gone the engine goes on tidying (network sandboxes, Swarm's
 * task records), which slowed whichever side ran next (Tessera measured ~15% slower right
 * after Swarm than before it). The next side starts once dockerd and containerd have used at
 * most IDLE_TICKS of CPU in each of IDLE_WINDOWS windows of IDLE_WINDOW_MS (ticks are 10 ms);
 * an engine still busy after SETTLE_MAX_MS fails the run.
 */
const IDLE_WINDOW_MS = 250;
const IDLE_TICKS = 2;
const IDLE_WINDOWS = 4;
const SETTLE_MAX_MS = 20_000;

/** Label selectors (key=value) that pick one side's containers of a workload (Tessera), service (Swarm) or run (floor). */
export const tesseraLabel = (name: string) => `tessera.workload=${name}`;
export const swarmLabel = (name: string) => `com.docker.swarm.service.name=${name}`;
/** The floor's containers carry this label, valued with the run's name. */
const FLOOR_LABEL = "tessera-bench.floor";
export const floorLabel = (name: string) => `${FLOOR_LABEL}=${name}`;

const docker = new Docker();

/** Containers carrying `label`: running ones, or (`all`) in any state. */
async function countContainers(label: string, all = false): Promise<number> {
  return (await docker.listContainers({ all, filters: { label: [label] } })).length;
}

interface Side {
  label(name: string): string;
  /** Prepares what the CLI call reads (a manifest), then returns the call: only the call is timed. */
  launch(name: string): () => Promise<void>;
  remove(name: string): Promise<void>;
}

/** One side's time to all running, and how much of it the CLI call took. */
export interface Timing {
  name: string;
  ms: number;
  callMs: number;
}

/** Times one CLI call until `replicas` containers run, then removes them (untimed) and waits until they are gone. */
async function timeSide(side: Side, name: string, replicas: number): Promise<Timing> {
  const call = side.launch(name);
  const t0 = performance.now();
  await call();
  const callMs = performance.now() - t0;
  await eventually(`${replicas} containers of ${name} running`, async () => ((await countContainers(side.label(name))) >= replicas ? true : undefined), REACH_TIMEOUT_MS, POLL_MS);
  const ms = performance.now() - t0;
  await side.remove(name);
  await eventually(`the containers of ${name} removed`, async () => ((await countContainers(side.label(name), true)) === 0 ? true : undefined), REACH_TIMEOUT_MS, POLL_MS);
  await untilEngineIdle();
  return { name, ms, callMs };
}

/** CPU ticks (user + system) the engine's daemons have used so far. */
function engineTicks(): number {
  let total = 0;
  for (const name of ["dockerd", "containerd"]) {
    for (const pid of sh(["pgrep", "-x", name]).out.split("\n").filter(Boolean)) {
      // Fields after the parenthesised command name: state is the 3rd, utime the 14th, stime the 15th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(fields[11]) + Number(fields[12]);
    }
  }
  return total;
}

/**
 * Waits until the engine has been idle for IDLE_WINDOWS windows in a row (see IDLE_TICKS).
 * Fails when it never is: the next side would start on a busy engine, and the times of the
 * two sides would no longer compare.
 */
async function untilEngineIdle(): Promise<void> {
  const deadline = performance.now() + SETTLE_MAX_MS;
  let quiet = 0;
  let last = engineTicks();
  const busy: number[] = [];
  while (quiet < IDLE_WINDOWS) {
    if (performance.now() >= deadline) throw new Error(`the engine was not idle within ${SETTLE_MAX_MS} ms (dockerd + containerd CPU ticks per ${IDLE_WINDOW_MS} ms, last windows: ${busy.slice(-8).join(" ")}; idle is ≤ ${IDLE_TICKS})`);
    await Bun.sleep(IDLE_WINDOW_MS);
    const now = engineTicks();
    busy.push(now - last);
    quiet = now - last <= IDLE_TICKS ? quiet + 1 : 0;
    last = now;
  }
}

export interface ContainersRun {
  tessera: Timing;
  swarm: Timing;
  /** The engine alone: every container created and started at once through the Engine API. */
  floor: Timing;
}

/**
 * `runs` paired runs of `replicas` containers on each side, alternating which side goes first.
 * A control plane, one agent (`--executor docker`) and swarm mode are set up once for all runs;
 * swarm mode is left at the end only when this function entered it.
 */
export async function measureContainers(replicas: number, runs: number): Promise<ContainersRun[]> {
  requireBinary();
  if (!dockerAvailable()) throw new Error("no Docker engine answers");
  ensureImage();
  const swarmState = sh(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]).out.trim();
  if (swarmState !== "inactive" && swarmState !== "active") throw new Error(`this engine's swarm state is "${swarmState}"; expected inactive or active`);
  const enteredSwarm = swarmState === "inactive";
  const h = new Harness();
  /** The workload or service being measured, removed in `finally` when a run fails. */
  let pending: { side: Side; name: string } | undefined;
  try {
    if (enteredSwarm) {
      // Loopback only: the control port, gossip and the data path stay on 127.0.0.1.
      const r = sh(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377", "--data-path-addr", "127.0.0.1"]);
      ok("docker swarm init", r.code, r.out);
    }
    const { address } = await h.startControl();
    const env = { TESSERA_CONTROL: address };
    // Capacity is not what this measures: offer enough for any replica count.
    h.start(["agent", "--control", address, "--name", NODE, "--executor", "docker", "--cpu-millis", "1000000", "--memory-mb", "1000000", "--data-dir", join(h.dir, "agent")]);
    await eventually(`${NODE} Ready`, async () => ((await h.run(["ctl", "get", "nodes"], env)).stdout.match(new RegExp(`${NODE}\\s+Ready`)) ? true : undefined));

    const tessera: Side = {
      label: tesseraLabel,
      launch(name) {
        const file = join(h.dir, `${name}.json`);
        const spec = { image: IMAGE, command: "/bin/sleep", args: ["3600"], replicas, resources: { cpuMillis: CPU_MILLIS, memoryMb: MEMORY_MB }, stopGracePeriod: `${GRACE_S}s` };
        writeFileSync(file, JSON.stringify({ name, spec }));
        return async () => {
          const r = await h.run(["ctl", "apply", "-f", file], env);
          ok("tessera ctl apply", r.code, r.stdout + r.stderr);
        };
      },
      async remove(name) {
        const r = await h.run(["ctl", "delete", "workload", name], env);
        ok("tessera ctl delete", r.code, r.stdout + r.stderr);
      },
    };
    const swarm: Side = {
      label: swarmLabel,
      launch(name) {
        // --no-resolve-image: the image exists only locally (docker import), and no registry is reachable.
        const args = ["--name", name, "--replicas", String(replicas), "--detach", "--no-resolve-image", "--stop-grace-period", `${GRACE_S}s`];
        const limits = ["--limit-cpu", String(CPU_MILLIS / 1000), "--limit-memory", `${MEMORY_MB}M`];
        return async () => {
          const r = sh(["docker", "service", "create", ...args, ...limits, IMAGE, "/bin/sleep", "3600"]);
          ok("docker service create", r.code, r.out);
        };
      },
      async remove(name) {
        const r = sh(["docker", "service", "rm", name]);
        ok("docker service rm", r.code, r.out);
      },
    };

    const floor: Side = {
      label: floorLabel,
      launch(name) {
        const start = async (i: number) => {
          const c = await docker.createContainer({
            name: `${name}-${i}`,
            Image: IMAGE,
            Entrypoint: ["/bin/sleep"],
            Cmd: ["3600"],
            Labels: { [FLOOR_LABEL]: name },
            HostConfig: { NanoCpus: CPU_MILLIS * 1_000_000, Memory: MEMORY_MB * 1024 * 1024 },
          });
          await c.start();
        };
        // All at once: measured fastest on this engine (2 or 4 at a time took longer).
        return async () => void (await Promise.all(Array.from({ length: replicas }, (_, i) => start(i))));
      },
      async remove(name) {
        const list = await docker.listContainers({ all: true, filters: { label: [floorLabel(name)] } });
        await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true })));
      },
    };
    const sides = { tessera, swarm, floor };

    const results: ContainersRun[] = [];
    for (let r = 0; r < runs; r++) {
      const names = { tessera: `bench-t-${process.pid}-${r}`, swarm: `bench-s-${process.pid}-${r}`, floor: `bench-f-${process.pid}-${r}` };
      // Alternate which of Tessera and Swarm goes first, so drift in the engine's speed is shared fairly.
      const order = r % 2 === 0 ? (["tessera", "swarm", "floor"] as const) : (["swarm", "tessera", "floor"] as const);
      const run: Partial<ContainersRun> = {};
      for (const which of order) {
        pending = { side: sides[which], name: names[which] };
        run[which] = await timeSide(pending.side, pending.name, replicas);
        pending = undefined;
      }
      const { tessera: t, swarm: s, floor: f } = run as ContainersRun;
      results.push({ tessera: t, swarm: s, floor: f });
      console.log(
        `run ${r + 1}/${runs} (${order[0]} first): tessera ${t.ms.toFixed(0)} ms (CLI ${t.callMs.toFixed(0)}), swarm ${s.ms.toFixed(0)} ms (CLI ${s.callMs.toFixed(0)}), engine floor ${f.ms.toFixed(0)} ms, ratio ${(t.ms / s.ms).toFixed(2)}`,
      );
    }
    return results;
  } finally {
    // What a failed run left: remove it and wait, so no container outlives the benchmark.
    if (pending) {
      const { side, name } = pending;
      await side.remove(name).catch(() => {});
      await eventually(`the containers of ${name} removed`, async () => ((await countContainers(side.label(name), true)) === 0 ? true : undefined), REACH_TIMEOUT_MS, POLL_MS).catch(() => {});
    }
    await h.stop();
    if (enteredSwarm) sh(["docker", "swarm", "leave", "--force"]);
  }
}

/** Fails with the command's output unless it exited 0. */
function ok(what: string, code: number, output: string): void {
  if (code !== 0) throw new Error(`${what} exited with ${code}: ${output}`);
}

const REPLICAS = 20;
const GOAL_RATIO = 0.5;

/** Benchmark 1: 20 busybox replicas, Tessera's Docker executor against Docker Swarm. */
export async function benchContainers(runs: number): Promise<Section> {
  const measured = await measureContainers(REPLICAS, runs);
  const tessera = stats(measured.map((m) => m.tessera.ms));
  const swarm = stats(measured.map((m) => m.swarm.ms));
  const tesseraCall = stats(measured.map((m) => m.tessera.callMs));
  const swarmCall = stats(measured.map((m) => m.swarm.callMs));
  const floor = stats(measured.map((m) => m.floor.ms));
  const pairRatio = stats(measured.map((m) => m.tessera.ms / m.swarm.ms));
  const overFloor = stats(measured.map((m) => m.tessera.ms / m.floor.ms));
  const floorRatio = stats(measured.map((m) => m.floor.ms / m.swarm.ms));
  const medianRatio = round(tessera.median / swarm.median);
  return {
    name: "containers",
    order: 1,
    results: { replicas: REPLICAS, pollMs: POLL_MS, goalRatio: GOAL_RATIO, tesseraMs: tessera, swarmMs: swarm, tesseraCliCallMs: tesseraCall, swarmCliCallMs: swarmCall, floorMs: floor, ratioPerRun: pairRatio, tesseraOverFloor: overFloor, floorOverSwarm: floorRatio, ratioOfMedians: medianRatio, runs: measured },
    markdown: `## 1. Containers: ${REPLICAS} busybox replicas of \`sleep 3600\`, apply to all running

| | median | min | max | goal |
|---|---|---|---|---|
| Tessera: \`tessera ctl apply -f\` (Docker executor, one agent) | ${cells(tessera, "ms")} | |
| … of which the \`tessera ctl apply\` call | ${cells(tesseraCall, "ms")} | |
| Docker Swarm: \`docker service create --replicas ${REPLICAS}\` | ${cells(swarm, "ms")} | |
| … of which the \`docker service create\` call | ${cells(swarmCall, "ms")} | |
| floor: the engine alone, ${REPLICAS} create + start calls at once (Engine API, in the benchmark's process) | ${cells(floor, "ms")} | |
| Tessera / Swarm, per run | ${cells(pairRatio, "×")} | ≤ ${GOAL_RATIO}× ${verdict(pairRatio.median <= GOAL_RATIO)} |
| Tessera / floor, per run | ${cells(overFloor, "×")} | |
| floor / Swarm, per run: the engine's own share of Swarm's time | ${cells(floorRatio, "×")} | |

Each time runs from the call (CLI or API) until the engine's container list (what \`docker ps\`
shows; polled every ${POLL_MS} ms through the Engine API, for all three) has all ${REPLICAS} running; same engine, image, and limits (${CPU_MILLIS}m CPU, ${MEMORY_MB} MiB).
Runs alternate whether Tessera or Swarm goes first; the floor runs third. Each side starts
once the engine is idle again (dockerd and containerd at most ${IDLE_TICKS} CPU ticks in each of ${IDLE_WINDOWS}
windows of ${IDLE_WINDOW_MS} ms): its tidying after the previous side slowed the next one. The ratio is taken per
run (Tessera's time over Swarm's in the same run) and its median is what the goal is judged on;
the ratio of the medians is ${medianRatio}×.
`,
  };
}
