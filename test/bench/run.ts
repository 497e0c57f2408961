/**
 * `make bench`: runs every benchmark, writes bench-results/<name>.json and, from that one run,
 * BENCHMARKS.md stamped with the commit measured. `bun test/bench/run.ts NAME...` runs only
 * those and writes only their json: a BENCHMARKS.md stitched from sections of different runs
 * (different commits, different machine load) would compare numbers that were never measured
 * together, so the file is written only when every section comes from the run that writes it.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { benchContainers } from "./containers.js";
import { benchCost } from "./cost.js";
import { benchEndpoints } from "./endpoints.js";
import { benchFailure } from "./failure.js";
import { benchFootprint } from "./footprint.js";
import { benchHttpApi } from "./http-api.js";
import { benchLatency } from "./latency.js";
import { benchLimits } from "./limits.js";
import { benchPartition } from "./partition.js";
import { benchPlanner } from "./planner.js";
import { benchRestart } from "./restart.js";
import type { Section } from "./report.js";
import { benchScale } from "./scale.js";
import { benchSnapshot } from "./snapshot.js";
import { benchTakeover } from "./takeover.js";
import { benchWeb } from "./web.js";

const ROOT = join(import.meta.dir, "..", "..");
const RESULTS = join(ROOT, "bench-results");
const RUNS = Number(process.env.TESSERA_BENCH_RUNS ?? 5);

const BENCHMARKS: Record<string, (runs: number) => Promise<Section>> = {
  containers: benchContainers,
  latency: benchLatency,
  scale: benchScale,
  planner: benchPlanner,
  failure: benchFailure,
  footprint: benchFootprint,
  restart: benchRestart,
  endpoints: benchEndpoints,
  web: benchWeb,
  takeover: benchTakeover,
  cost: benchCost,
  limits: benchLimits,
  "http-api": benchHttpApi,
  snapshot: benchSnapshot,
  partition: benchPartition,
};

/** Which run a result came from: the commit measured and when the run started. */
interface RunStamp {
  id: string;
  commit: string;
  /** Uncommitted changes (outside the benchmark's own outputs) when the run started. */
  dirty: boolean;
  startedAt: string;
}

type Result = Section & { machine: typeof machine; at: string; run: RunStamp };

function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd: ROOT, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")} exited with ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

function stampRun(): RunStamp {
  const commit = git("rev-parse", "HEAD");
  // The outputs of earlier runs and the worktree's node_modules link are not what is measured.
  const dirty = git("status", "--porcelain", "--", ".", ":(exclude)bench-results", ":(exclude)BENCHMARKS.md", ":(exclude)node_modules") !== "";
  const startedAt = new Date().toISOString();
  return { id: `${commit.slice(0, 12)}${dirty ? "-dirty" : ""}@${startedAt}`, commit, dirty, startedAt };
}

const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in BENCHMARKS)) throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(", ")}`);
mkdirSync(RESULTS, { recursive: true });
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), bun: Bun.version };
const names = wanted.length > 0 ? wanted : Object.keys(BENCHMARKS);
/** A child (one benchmark of several) gets its parent's stamp; anything else is a run of its own. */
const parentRun = process.env.TESSERA_BENCH_RUN;
const run: RunStamp = parentRun ? (JSON.parse(parentRun) as RunStamp) : stampRun();
const resultFile = (name: string) => join(RESULTS, `${name}.json`);

if (names.length === 1) {
  const section = await BENCHMARKS[names[0]!]!(RUNS);
  const result: Result = { machine, at: new Date().toISOString(), run, ...section };
  writeFileSync(resultFile(names[0]!), `${JSON.stringify(result, null, 2)}\n`);
  console.log(section.markdown);
} else {
  // One process per benchmark: a benchmark must not pay for the heap the previous one left
  // (the planner pass ran ~1.6x slower after the scale benchmark in the same process).
  for (const name of names) {
    console.log(`== ${name}`);
    const child = Bun.spawn([process.execPath, import.meta.path, name], { stdout: "inherit", stderr: "inherit", env: { ...process.env, TESSERA_BENCH_RUN: JSON.stringify(run) } });
    if ((await child.exited) !== 0) throw new Error(`benchmark ${name} failed`);
  }
}

if (Object.keys(BENCHMARKS).every((name) => names.includes(name))) writeBenchmarksMd();
else if (!parentRun) console.log(`BENCHMARKS.md not written: it comes from a full run (make bench), and this run measured only ${names.join(", ")}.`);

function writeBenchmarksMd(): void {
  const sections = Object.keys(BENCHMARKS)
    .map((name) => JSON.parse(readFileSync(resultFile(name), "utf8")) as Result)
    .sort((a, b) => a.order - b.order);
  const strays = sections.filter((s) => s.run?.id !== run.id);
  if (strays.length > 0) throw new Error(`not writing BENCHMARKS.md: ${strays.map((s) => `${s.name} (run ${s.run?.id ?? "unstamped"})`).join(", ")} did not come from this run (${run.id})`);
  const minute = (iso: string) => `${iso.slice(0, 16).replace("T", " ")} UTC`;
  const md = `# Benchmarks

Written by \`make bench\` from one run of every benchmark (raw numbers: bench-results/*.json),
measuring commit \`${run.commit}\`${run.dirty ? " **with uncommitted changes**" : ""}, started ${minute(run.startedAt)}.
Medians of ${RUNS} runs unless a section says otherwise, with min and max; every comparison is a
ratio against a baseline measured in the same run, since absolute times on shared machines are noisy.

Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Bun ${machine.bun}.

${sections.map((s) => `${s.markdown.trim()}\n\n_Measured ${minute(s.at)}._`).join("\n\n")}
`;
  writeFileSync(join(ROOT, "BENCHMARKS.md"), md);
}
// Agents and clients keep handles open; the benchmarks are done.
process.exit(0);
