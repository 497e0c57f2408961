/**
 * `make bench`: runs the benchmarks and writes bench-results/<name>.json and BENCHMARKS.md.
 * `bun test/bench/run.ts NAME...` runs only those; BENCHMARKS.md is always assembled from every
 * bench-results/*.json present, so a partial run keeps the other sections.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { benchContainers } from "./containers.js";
import { benchFailure } from "./failure.js";
import { benchFootprint } from "./footprint.js";
import { benchLatency } from "./latency.js";
import { benchPlanner } from "./planner.js";
import { benchRestart } from "./restart.js";
import type { Section } from "./report.js";
import { benchScale } from "./scale.js";

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
};

const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in BENCHMARKS)) throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(", ")}`);
mkdirSync(RESULTS, { recursive: true });
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), bun: Bun.version };
const names = wanted.length > 0 ? wanted : Object.keys(BENCHMARKS);
if (names.length === 1) {
  const section = await BENCHMARKS[names[0]!]!(RUNS);
  writeFileSync(join(RESULTS, `${names[0]}.json`), `${JSON.stringify({ machine, at: new Date().toISOString(), ...section }, null, 2)}\n`);
  console.log(section.markdown);
} else {
  // One process per benchmark: a benchmark must not pay for the heap the previous one left
  // (the planner pass ran ~1.6x slower after the scale benchmark in the same process).
  for (const name of names) {
    console.log(`== ${name}`);
    const child = Bun.spawn([process.execPath, import.meta.path, name], { stdout: "inherit", stderr: "inherit", env: process.env });
    if ((await child.exited) !== 0) throw new Error(`benchmark ${name} failed`);
  }
}

const sections = readdirSync(RESULTS)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(join(RESULTS, f), "utf8")) as Section & { machine: typeof machine; at: string })
  .sort((a, b) => a.order - b.order);
const md = `# Benchmarks

Written by \`make bench\` (raw numbers: bench-results/*.json). Medians of ${RUNS} runs unless a
section says otherwise, with min and max; every comparison is a ratio against a baseline
measured in the same run, since absolute times on shared machines are noisy.

Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Bun ${machine.bun}.

${sections.map((s) => `${s.markdown.trim()}\n\n_Measured ${s.at.slice(0, 16).replace("T", " ")} UTC._`).join("\n\n")}
`;
writeFileSync(join(ROOT, "BENCHMARKS.md"), md);
// Agents and clients keep handles open; the benchmarks are done.
process.exit(0);
