/** `tessera ctl run`: start a run of a periodic batch now (admin). */
import { Command, Option } from "clipanion";
import type { Ctl } from "../client.js";
import { CtlCommand } from "./ctl-command.js";

export class RunWorkloadCommand extends CtlCommand {
  static paths = [["ctl", "run"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "start a run of a periodic batch workload (spec.schedule) now",
    details:
      "The run is a batch workload of its own, named WORKLOAD-YYYYMMDD-HHMMSS-manual after the current second (UTC), with the workload's completions, parallelism and backoffLimit. It starts whatever the concurrency policy says, and the schedule goes on as before. It needs an admin token and is recorded in history. At most one run a second: a second `run` within the same second is refused.",
    examples: [["Run the nightly backup now", "tessera ctl run backup"]],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.runWorkload, { name: this.name });
    this.out(`workload/${res.run?.name ?? this.name} started`);
  }
}
