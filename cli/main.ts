#!/usr/bin/env bun
/** Entry point of the one `tessera` binary: control, agent, ctl, dev, replay, sim and version modes. */
// First, before any other module: in the compiled binary, Bun's bundler evaluates a lazily
// imported module's ES imports before its CommonJS ones (oven-sh/bun#41601), so the X.509
// code behind the commands imported below would not find the Reflect polyfill it imports.
import "reflect-metadata";
import { type BaseContext, Builtins, Cli, type CommandClass } from "clipanion";
import { dedupeSuggestions, hoistCtlOptions, missingRequiredOption, nameOptionValues } from "./argv.js";
import { VERSION, VersionCommand } from "./version-command.js";

type Commands = Array<CommandClass<BaseContext>>;

async function serverCommands(): Promise<Commands> {
  const { ControlCommand, AgentCommand, DevCommand } = await import("./server-commands.js");
  return [ControlCommand, AgentCommand, DevCommand];
}

async function ctlCommands(): Promise<Commands> {
  const [w, n, l, t, x, c, q, top, s, run, sec] = await Promise.all([
    import("./ctl/workload-commands.js"),
    import("./ctl/node-commands.js"),
    import("./ctl/log-commands.js"),
    import("./ctl/token-commands.js"),
    import("./ctl/exec-command.js"),
    import("./ctl/control-plane-commands.js"),
    import("./ctl/quarantine-command.js"),
    import("./ctl/top-command.js"),
    import("./ctl/snapshot-command.js"),
    import("./ctl/run-command.js"),
    import("./ctl/secret-commands.js"),
  ]);
  return [
    w.ApplyCommand,
    w.PlanCommand,
    w.GetWorkloadsCommand,
    w.GetInstancesCommand,
    w.GetEndpointsCommand,
    n.GetNodesCommand,
    w.DescribeWorkloadCommand,
    n.DescribeNodeCommand,
    w.DeleteWorkloadCommand,
    w.RolloutRestartCommand,
    run.RunWorkloadCommand,
    w.RolloutUndoCommand,
    w.RolloutPromoteCommand,
    w.RolloutStatusCommand,
    w.RolloutPauseCommand,
    w.RolloutHistoryCommand,
    q.RolloutUnquarantineCommand,
    l.HistoryCommand,
    l.EventsCommand,
    l.LogsCommand,
    x.ExecCommand,
    n.CordonCommand,
    n.UncordonCommand,
    n.DrainCommand,
    n.NodeApproveCommand,
    n.NodeRemoveCommand,
    t.TokenRotateCommand,
    t.TokenCreateCommand,
    t.TokenListCommand,
    t.TokenRevokeCommand,
    c.GetControlPlanesCommand,
    top.TopNodesCommand,
    top.TopWorkloadsCommand,
    top.TopInstancesCommand,
    s.SnapshotSaveCommand,
    sec.SecretCreateCommand,
    sec.SecretUpdateCommand,
    sec.ConfigCreateCommand,
    sec.ConfigUpdateCommand,
    sec.GetSecretsCommand,
    sec.GetConfigsCommand,
    sec.DeleteSecretCommand,
    sec.DeleteConfigCommand,
    sec.RotateClusterKeyCommand,
  ];
}

/**
 * An agent idles between heartbeats and runs little JavaScript of its own, yet at its default
 * thresholds JavaScriptCore's optimizing JIT compiled some of the run-once startup code
 * (module bodies, parsing the command line), paging in ~3 MiB of compiler code and ~1 MiB of
 * heap that an idle agent then kept for good (BENCHMARKS.md, Footprint). A hundredfold threshold
 * keeps that code in the lower tiers, for the agent's whole life: nothing it runs is hot
 * enough to repay an optimizing compile (idle CPU dropped with it).
 */
const AGENT_JIT_POLICY = 100;

async function agentCommands(): Promise<Commands> {
  Bun.unsafe.setJITPolicy(AGENT_JIT_POLICY);
  return serverCommands();
}

const replayCommands = async (): Promise<Commands> => [(await import("./replay-command.js")).ReplayCommand];
const simCommands = async (): Promise<Commands> => [(await import("./sim-command.js")).SimCommand];

/** Every command, in the order `tessera --help` lists them. */
async function allCommands(): Promise<Commands> {
  const [server, ctl, replay, sim, { CompletionCommand }] = await Promise.all([serverCommands(), ctlCommands(), replayCommands(), simCommands(), import("./completion-command.js")]);
  return [...server, ...ctl, ...replay, ...sim, CompletionCommand, VersionCommand, Builtins.HelpCommand];
}

/**
 * The commands a first word can lead to, so only their modules are imported and only their
 * options compiled into clipanion's parser. Evaluating every command's modules (gRPC, X.509,
 * SQLite, protobuf registries) and compiling a parser for all 25 commands took most of the
 * time of `tessera version` and added to every process (BENCHMARKS.md, Footprint). Any other
 * first word (help, completion, a typo, none) gets every command, as before.
 */
const BY_FIRST_WORD = new Map<string, () => Promise<Commands>>([
  ["control", serverCommands],
  ["agent", agentCommands],
  ["dev", serverCommands],
  ["ctl", ctlCommands],
  ["replay", replayCommands],
  ["sim", simCommands],
  ["version", async () => [VersionCommand]],
  ["--version", async () => [VersionCommand]],
]);

/**
 * Exits once stdout and stderr have handed everything to the kernel. Bun writes to a pipe
 * asynchronously: exiting at once cut `ctl get workloads -o json | wc -c` to its first 64 KiB
 * on some runs. Ending a stream waits for its pending writes; a reader that went away (EPIPE)
 * ends the wait too.
 */
async function exitFlushed(code: number): Promise<never> {
  const flushed = (s: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      s.once("error", () => resolve());
      s.end(() => resolve());
    });
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Every usage text clipanion prints (help, and the usages listed with an error) passes here. */
class TesseraCli extends Cli {
  override usage(...a: Parameters<Cli["usage"]>): string {
    return nameOptionValues(super.usage(...a));
  }

  override error(...a: Parameters<Cli["error"]>): string {
    return dedupeSuggestions(nameOptionValues(super.error(...a)));
  }
}

const args = hoistCtlOptions(process.argv.slice(2));
const cli = new TesseraCli({
  binaryLabel: "Tessera — a small control plane",
  binaryName: "tessera",
  binaryVersion: VERSION,
  enableColors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
});
const commands = await (BY_FIRST_WORD.get(args[0] ?? "") ?? allCommands)();

/**
 * The words of `tessera ctl get --help`, or of a bare `tessera ctl`, that lead only to longer
 * command paths (a group such as `ctl`, `ctl get`, `ctl token`), or undefined. clipanion knows
 * no command there and answered "Command not found" with every usage; a group's help lists its
 * commands instead.
 */
function helpGroup(): string[] | undefined {
  const flag = args.at(-1);
  const words = flag === "--help" || flag === "-h" ? args.slice(0, -1) : args;
  if (words.length === 0 || words.some((w) => w.startsWith("-"))) return undefined;
  const paths = commands.flatMap((c) => c.paths ?? []);
  const under = (p: string[]) => p.length > words.length && words.every((w, i) => p[i] === w);
  return paths.some(under) && !paths.some((p) => p.join(" ") === words.join(" ")) ? words : undefined;
}
const group = helpGroup();
for (const command of commands) if (!group || command.paths?.some((p) => group.every((w, i) => p[i] === w))) cli.register(command);
if (group) {
  process.stdout.write(cli.usage());
  await exitFlushed(0);
}

let command: Awaited<ReturnType<typeof cli.process>> | undefined;
try {
  command = cli.process(args);
} catch (err) {
  // Unknown commands and malformed flags are usage errors: exit 2, like other CLIs.
  // clipanion's index does not export UnknownSyntaxError: known by its name and candidates.
  const candidates = err instanceof Error && err.name === "UnknownSyntaxError" ? (err as Error & { candidates: Array<{ usage: string }> }).candidates : [];
  const missing = missingRequiredOption(args, candidates);
  process.stderr.write(missing ? `error: ${missing}\n` : cli.error(err));
}
await exitFlushed(command ? await cli.run(command) : 2);
