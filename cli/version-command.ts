/**
 * `tessera version`, and the version every mode reports. It imports nothing but clipanion, so
 * main.ts can answer `tessera version` without evaluating any other command's modules.
 */
import { Command } from "clipanion";
import pkg from "../package.json";

export const VERSION: string = pkg.version;

export class VersionCommand extends Command {
  static paths = [["version"], ["--version"]];
  static usage = Command.Usage({ description: "print the version of this binary", examples: [["Print it", "tessera version"]] });
  async execute() {
    this.context.stdout.write(`tessera ${VERSION}\n`);
  }
}
