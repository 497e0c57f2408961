/**
 * Who may import whom (ARCHITECTURE.md, Layers): reads every import, static and dynamic, of
 * every .ts file under src/ and cli/ and names each breach as `file:line: imports "spec"
 * (what it is) — breaks "the rule"`. The rules are the table below; the layers are folders.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { type Import, lineOf, readImports } from "./source-scan.js";

const ROOT = resolve(import.meta.dir, "..", "..");

/** The layers: each source file belongs to one, by its folder; imports also reach the runtime and npm packages. */
type Layer = "cli" | "src/core" | "src/sim" | "src/gen" | "src/control" | "src/agent" | "src/shell" | "src/web" | "src/ (ambient declarations)" | "outside src/ and cli/" | "the runtime" | "an npm package" | "an unreadable import";
const FOLDERS = ["cli", "src/core", "src/sim", "src/gen", "src/control", "src/agent", "src/shell", "src/web"] as const;
const BUILTINS = new Set(builtinModules);

/** The layer of a path relative to the root (forward slashes). */
function layerOfPath(path: string): Layer {
  const folder = FOLDERS.find((f) => path.startsWith(`${f}/`));
  if (folder) return folder;
  if (/^src\/[^/]+\.d\.ts$/.test(path)) return "src/ (ambient declarations)";
  return "outside src/ and cli/";
}

/** What one import of `from` (relative to the root) reaches. */
function targetOf(from: string, spec: string): { layer: Layer; path?: string } {
  if (spec === "") return { layer: "an unreadable import" };
  if (spec.startsWith(".")) {
    const path = relative(ROOT, resolve(ROOT, dirname(from), spec)).split(sep).join("/");
    return { layer: layerOfPath(path), path };
  }
  if (/^(bun|node)(:|$)/.test(spec) || BUILTINS.has(spec)) return { layer: "the runtime" };
  return { layer: "an npm package" };
}

interface Rule {
  /** The rule as ARCHITECTURE.md states it. */
  text: string;
  /** `path`: the importing file, relative to the root. */
  applies: (from: Layer, path: string) => boolean;
  /** `path`: the imported file, relative to the root, when it is one of this tree's. */
  breaks: (to: Layer, i: Import, path: string | undefined) => boolean;
}

/** The rooms of src/control that answer callers: they reach state only through the writer. */
const HANDLER_ROOMS = ["src/control/grpc/", "src/control/http/"];
/** What of the store a handler may know: its interface, never an implementation. */
const STORE_INTERFACE = ["src/control/store/store.js", "src/control/store/rows.js", "src/control/store/store.ts", "src/control/store/rows.ts"];

const SHELLS: Layer[] = ["src/control", "src/agent"];

const RULES: Rule[] = [
  {
    text: "src/core imports only src/core, and types (`import type`) from src/gen: no bun:*, node:* or npm package, no shell",
    applies: (from) => from === "src/core",
    breaks: (to, i) => !(to === "src/core" || (to === "src/gen" && i.typeOnly)),
  },
  {
    text: "src/sim is the simulator, pure like the core: it imports only src/sim, src/core and types (`import type`) from src/gen",
    applies: (from) => from === "src/sim",
    breaks: (to, i) => !(to === "src/sim" || to === "src/core" || (to === "src/gen" && i.typeOnly)),
  },
  {
    text: "only cli/ runs the simulator: src/control, src/agent, src/shell and src/web never import src/sim",
    applies: (from) => SHELLS.includes(from) || from === "src/shell" || from === "src/web",
    breaks: (to) => to === "src/sim",
  },
  {
    text: "src/control/grpc and src/control/http reach state only through the writer (commands in, its view out): of the store they know only its interface (store/store.ts, store/rows.ts), never an implementation, and they never evolve a state themselves (src/core/events/evolve.ts)",
    applies: (_, path) => HANDLER_ROOMS.some((room) => path.startsWith(room)),
    breaks: (_, __, path) =>
      path !== undefined && ((path.startsWith("src/control/store/") && !STORE_INTERFACE.includes(path)) || /^src\/core\/events\/(evolve|stored-state)\.(js|ts)$/.test(path)),
  },
  {
    text: "src/control never imports src/agent: the two shells share only src/core, src/gen and src/shell",
    applies: (from) => from === "src/control",
    breaks: (to) => to === "src/agent",
  },
  {
    text: "src/agent never imports src/control: the two shells share only src/core, src/gen and src/shell",
    applies: (from) => from === "src/agent",
    breaks: (to) => to === "src/control",
  },
  {
    text: "src/shell serves both shells, so it imports neither of them",
    applies: (from) => from === "src/shell",
    breaks: (to) => SHELLS.includes(to),
  },
  {
    text: "src/gen is generated from proto/: it imports only src/gen and npm packages",
    applies: (from) => from === "src/gen",
    breaks: (to) => !(to === "src/gen" || to === "an npm package"),
  },
  {
    text: "src/web runs in the browser: it imports only src/web and src/core (pure, so it runs there too)",
    applies: (from) => from === "src/web",
    breaks: (to) => !(to === "src/web" || to === "src/core"),
  },
  {
    text: "only src/control imports src/web (the page it serves)",
    applies: (from) => from !== "src/web" && from !== "src/control",
    breaks: (to) => to === "src/web",
  },
  {
    text: "nothing under src/ imports cli/",
    applies: (from) => from !== "cli",
    breaks: (to) => to === "cli",
  },
  {
    text: "every import names its module as a string literal, so that this test can read the graph",
    applies: () => true,
    breaks: (to) => to === "an unreadable import",
  },
];

/** Every breach in one file (path relative to the root), as `file:line: imports "spec" (layer) — breaks "rule"`. */
function breaches(path: string, src: string): string[] {
  const from = layerOfPath(path);
  const lines = src.split("\n");
  const out: string[] = [];
  for (const i of readImports(src)) {
    const to = targetOf(path, i.spec);
    for (const rule of RULES) {
      if (!rule.applies(from, path) || !rule.breaks(to.layer, i, to.path)) continue;
      const line = lineOf(src, i.index);
      const what = `${i.typeOnly ? "a type from " : ""}${to.path ?? to.layer}`;
      out.push(`${path}:${line}: imports "${i.spec}" (${what}) — breaks "${rule.text}" — ${lines[line - 1]!.trim()}`);
    }
  }
  return out;
}

const files = ["src", "cli"]
  .flatMap((dir) => readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" }).map((f) => `${dir}/${f.split(sep).join("/")}`))
  .filter((f) => f.endsWith(".ts"))
  .sort();

describe("layer boundaries", () => {
  test("the scan sees every layer", () => {
    const layers = new Set(files.map(layerOfPath));
    for (const layer of FOLDERS) expect(layers).toContain(layer);
    expect(files).toContain("cli/client.ts");
    expect(files).toContain("src/agent/agent.ts");
    expect(files).toContain("src/web/main.ts");
  });

  test("every file under src/ belongs to a layer ARCHITECTURE.md names", () => {
    expect(files.filter((f) => layerOfPath(f) === "outside src/ and cli/")).toEqual([]);
  });

  test.each(files.map((f) => [f]))("%s", (file) => {
    expect(breaches(file, readFileSync(join(ROOT, file), "utf8"))).toEqual([]);
  });
});

describe("the scanner itself", () => {
  /** The rule an import in `file` breaks, or [] when allowed. */
  const rulesBroken = (file: string, src: string) => breaches(file, src).map((b) => b.replace(/^.* — breaks "(.*)" — .*$/, "$1"));
  const rule = (start: string) => RULES.find((r) => r.text.startsWith(start))!.text;

  test.each([
    ["src/core/x.ts", 'import { readFileSync } from "node:fs";', rule("src/core")],
    ["src/core/x.ts", 'import type { Database } from "bun:sqlite";', rule("src/core")],
    ["src/core/x.ts", 'import fs from "fs";', rule("src/core")],
    ["src/core/x.ts", 'import * as grpc from "@grpc/grpc-js";', rule("src/core")],
    ["src/core/x.ts", 'import "reflect-metadata";', rule("src/core")],
    ["src/core/x.ts", 'const m = await import("node:os");', rule("src/core")],
    ["src/core/x.ts", 'import {\n  WorkloadSpec,\n} from "../gen/tessera/v1/types.js";', rule("src/core")],
    ["src/core/x.ts", 'import { type WorkloadSpec } from "../gen/tessera/v1/types.js";', rule("src/core")],
    ["src/core/x.ts", 'export { WorkloadSpec } from "../gen/tessera/v1/types.js";', rule("src/core")],
    ["src/core/x.ts", 'import { writeSecret } from "../shell/write-secret.js";', rule("src/core")],
    ["src/core/x.ts", 'import type { Writer } from "../control/writer.js";', rule("src/core")],
    ["src/core/model/x.ts", 'import { SimulatedFleet } from "../../sim/simulated-fleet.js";', rule("src/core")],
    ["src/sim/x.ts", 'import { readFileSync } from "node:fs";', rule("src/sim is")],
    ["src/sim/x.ts", 'import { Writer } from "../control/writer.js";', rule("src/sim is")],
    ["src/control/x.ts", 'import { runScenario } from "../sim/sim-run.js";', rule("only cli/")],
    ["src/control/grpc/x.ts", 'import { SqliteStore } from "../store/sqlite/store.js";', rule("src/control/grpc and")],
    ["src/control/http/x.ts", 'import type { PostgresStore } from "../store/postgres/store.js";', rule("src/control/grpc and")],
    ["src/control/grpc/x.ts", 'import { evolve } from "../../core/events/evolve.js";', rule("src/control/grpc and")],
    ["src/control/x.ts", 'import type { Agent } from "../agent/agent.js";', rule("src/control never")],
    ["src/control/security/x.ts", 'const { Agent } = await import("../../agent/agent.js");', rule("src/control never")],
    ["src/agent/x.ts", 'export * from "../control/wire.js";', rule("src/agent never")],
    ["src/agent/x.ts", 'const w = require("../control/wire.js");', rule("src/agent never")],
    ["src/shell/x.ts", 'import { pkiFiles } from "../control/security/pki.js";', rule("src/shell")],
    ["src/shell/x.ts", 'import { renewAt } from "../agent/credentials.js";', rule("src/shell")],
    ["src/gen/x.ts", 'import { durationMs } from "../core/spec.js";', rule("src/gen")],
    ["src/control/x.ts", 'import { Ctl } from "../../cli/client.js";', rule("nothing under src/")],
    ["src/x.d.ts", 'import type { Ctl } from "../cli/client.js";', rule("nothing under src/")],
    ["cli/x.ts", "const m = await import(`../src/${name}.js`);", rule("every import")],
    ["src/agent/x.ts", "const m = await import(name);", rule("every import")],
  ])("%s: flags %p", (file, src, broken) => {
    expect(rulesBroken(file, src)).toEqual([broken]);
  });

  test.each([
    ["src/core/x.ts", 'import type { WorkloadSpec } from "../gen/tessera/v1/types.js";'],
    ["src/core/x.ts", 'export type { WorkloadSpec } from "../gen/tessera/v1/types.js";'],
    ["src/core/x.ts", 'import { transition } from "./instance-machine.js";'],
    ["src/sim/x.ts", 'import { turn } from "../core/reconcile/turn.js";\nimport type { WorkloadSpec } from "../gen/tessera/v1/types.js";'],
    ["cli/x.ts", 'import { runScenario } from "../src/sim/sim-run.js";'],
    ["src/control/grpc/x.ts", 'import type { EventHistory } from "../store/store.js";\nimport type { StoredEvent } from "../store/rows.js";\nimport type { CommandPort } from "../writer/writer.js";'],
    ["src/control/lifecycle/x.ts", 'import { SqliteStore } from "../store/sqlite/store.js";\nimport { evolve } from "../../core/events/evolve.js";'],
    ["src/core/x.ts", '// import fs from "node:fs";\nconst s = \'import { x } from "node:fs"\';\nconst u = import.meta.url === "" ? "import(\'node:os\')" : "";'],
    ["src/control/x.ts", 'import { writeSecret } from "../shell/write-secret.js";\nimport { decide } from "../core/decide.js";\nimport { Workload } from "../gen/tessera/v1/types.js";\nimport * as grpc from "@grpc/grpc-js";'],
    ["src/agent/x.ts", 'import { CHANNEL_OPTIONS } from "../shell/control-channel.js";\nimport { transition } from "../core/instance-machine.js";'],
    ["src/shell/x.ts", 'import { chmodSync } from "node:fs";\nimport type { Duration } from "../gen/google/protobuf/duration.js";'],
    ["cli/x.ts", 'import { startControlPlane } from "../src/control/server.js";\nconst { Agent } = await import("../src/agent/agent.js");\nimport pkg from "../package.json";'],
  ])("%s: accepts %p", (file, src) => {
    expect(breaches(file, src)).toEqual([]);
  });

  test("a breach names the file, the line, the import and the rule", () => {
    expect(breaches("src/control/x.ts", 'import { decide } from "../core/decide.js";\nimport type { Agent } from "../agent/agent.js";\n')).toEqual([
      'src/control/x.ts:2: imports "../agent/agent.js" (a type from src/agent/agent.js) — breaks "src/control never imports src/agent: the two shells share only src/core, src/gen and src/shell" — import type { Agent } from "../agent/agent.js";',
    ]);
  });
});
