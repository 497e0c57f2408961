#!/usr/bin/env bun
/** Entry point of the one `tessera` binary: control, agent, ctl, dev, replay, sim and version modes. */
import { Builtins, Cli } from "clipanion";
import { hoistCtlOptions } from "./argv.js";
import {
  ApplyCommand,
  CordonCommand,
  DeleteWorkloadCommand,
  DescribeNodeCommand,
  DescribeWorkloadCommand,
  DrainCommand,
  GetInstancesCommand,
  GetNodesCommand,
  GetWorkloadsCommand,
  HistoryCommand,
  LogsCommand,
  PlanCommand,
  RolloutRestartCommand,
  RolloutUndoCommand,
  TokenCreateCommand,
  TokenRotateCommand,
  UncordonCommand,
} from "./ctl-commands.js";
import { CompletionCommand } from "./completion-command.js";
import { ReplayCommand } from "./replay-command.js";
import { SimCommand } from "./sim-command.js";
import { AgentCommand, ControlCommand, DevCommand, VERSION, VersionCommand } from "./server-commands.js";

const cli = new Cli({
  binaryLabel: "Tessera — a small control plane",
  binaryName: "tessera",
  binaryVersion: VERSION,
  enableColors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
});
for (const command of [
  ControlCommand,
  AgentCommand,
  DevCommand,
  ApplyCommand,
  PlanCommand,
  GetWorkloadsCommand,
  GetInstancesCommand,
  GetNodesCommand,
  DescribeWorkloadCommand,
  DescribeNodeCommand,
  DeleteWorkloadCommand,
  RolloutRestartCommand,
  RolloutUndoCommand,
  HistoryCommand,
  LogsCommand,
  CordonCommand,
  UncordonCommand,
  DrainCommand,
  TokenRotateCommand,
  TokenCreateCommand,
  ReplayCommand,
  SimCommand,
  CompletionCommand,
  VersionCommand,
  Builtins.HelpCommand,
]) {
  cli.register(command);
}

let command: Awaited<ReturnType<typeof cli.process>>;
try {
  command = cli.process(hoistCtlOptions(process.argv.slice(2)));
} catch (err) {
  // Unknown commands and malformed flags are usage errors: exit 2, like other CLIs.
  process.stderr.write(cli.error(err));
  process.exit(2);
}
process.exit(await cli.run(command));
