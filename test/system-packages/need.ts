/**
 * How a test asks for the system tools it runs (packages.ts lists them), and for what else it
 * needs of the machine (root, a running engine): where one is missing, its tests skip with one
 * line naming the tool and the Debian package that brings it, or what else is missing; under
 * TESSERA_CI=1 (.ci/run) they run instead, and `require()` fails them with the same words.
 */
import { missingProgram, packageOf, type SystemTool } from "./packages.js";

export interface ToolNeed {
  /** Whether everything needed is here. */
  available: boolean;
  /** Whether the tests skip: never under TESSERA_CI=1, where a missing tool must fail them. */
  skip: boolean;
  /** Why they cannot run here, or undefined. */
  reason: string | undefined;
  /** Throws the reason (a suite's setup or a test's first line): under TESSERA_CI=1 they run, and so fail. */
  require(): void;
}

export interface Circumstances {
  ci: boolean;
  found?: (program: string) => boolean;
}

/**
 * The judgement alone, for its test: `tools` by their package, then `otherwise` (what a test
 * needs beyond packages, e.g. root or a running engine, asked only when the tools are here).
 */
export function judgeTools(tools: readonly SystemTool[], otherwise: () => string | undefined, how: Circumstances): Omit<ToolNeed, "require"> {
  const missing = tools.flatMap((tool) => {
    const pkg = packageOf(tool);
    const program = missingProgram(pkg, how.found);
    return program === undefined ? [] : [{ program, pkg: pkg.name }];
  });
  const [are, packages] = missing.length > 1 ? ["are", "packages"] : ["is", "package"];
  const names = (key: "program" | "pkg") => missing.map((m) => m[key]).join(", ");
  const reason = missing.length > 0 ? `${names("program")} ${are} missing: Debian ${packages} ${names("pkg")}, which make test installs when run as root` : otherwise();
  return { available: reason === undefined, skip: reason !== undefined && !how.ci, reason };
}

/**
 * Whether the tests called `what` run: they need `tools` (and whatever `otherwise` says is
 * missing). Prints one SKIP line when they skip.
 */
export function needTools(what: string, tools: readonly SystemTool[], otherwise: () => string | undefined = () => undefined): ToolNeed {
  const ci = process.env.TESSERA_CI === "1";
  const judged = judgeTools(tools, otherwise, { ci });
  if (judged.skip) console.warn(`SKIP ${what}: ${judged.reason}; under TESSERA_CI=1 this fails`);
  return {
    ...judged,
    require() {
      if (judged.reason !== undefined) throw new Error(`${what} cannot run: ${judged.reason}`);
    },
  };
}

/** An `otherwise` for tests that need root, `doing` saying what for. */
export const needsRoot = (doing: string) => () => (process.getuid?.() === 0 ? undefined : `${doing} needs root`);
