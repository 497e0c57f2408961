#!/usr/bin/env bun
/** Entry point of the one `tessera` binary: control, agent, ctl, dev and version modes. */
import { Builtins, Cli } from "clipanion";
import {
  AgentCommand,
  ApplyCommand,
  ControlCommand,
  DeleteWorkloadCommand,
  DescribeWorkloadCommand,
  DevCommand,
  GetNodesCommand,
  GetWorkloadsCommand,
  VERSION,
  VersionCommand,
} from "./commands.js";
import { hoistCtlOptions } from "./argv.js";

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
  GetWorkloadsCommand,
  GetNodesCommand,
  DescribeWorkloadCommand,
  DeleteWorkloadCommand,
  VersionCommand,
  Builtins.HelpCommand,
]) {
  cli.register(command);
}

const code = await cli.run(hoistCtlOptions(process.argv.slice(2)));
process.exit(code);
