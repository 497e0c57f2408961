/** `tessera ctl rollout unquarantine`: lift a workload's crash-loop quarantine (admin). */
import { Command, Option } from "clipanion";
import type { Ctl } from "../client.js";
import { CtlCommand } from "./ctl-command.js";
import { quarantineLines } from "./render.js";

export class RolloutUnquarantineCommand extends CtlCommand {
  static paths = [["ctl", "rollout", "unquarantine"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "lift a workload's crash-loop quarantine, on one node or every node",
    details:
      "A spec whose copies failed 5 times within 60 s on a node is kept off that node for 5 minutes (rollout status and describe say until when). This forgets those failures, so copies may be placed there at once; it needs an admin token and is recorded in history. A changed spec is never held by an older one's quarantine: applying a fix needs no unquarantine.",
    examples: [
      ["Lift web's quarantine on node-a", "tessera ctl rollout unquarantine web --node node-a"],
      ["On every node", "tessera ctl rollout unquarantine web"],
    ],
  });
  name = Option.String({ required: true });
  node = Option.String("--node", "", { description: "the node to lift it on; default: every node" });

  async runWith(ctl: Ctl) {
    const res = await ctl.call(ctl.api.liftQuarantine, { name: this.name, node: this.node });
    const left = quarantineLines(res.workload!);
    this.out(`workload/${this.name} quarantine lifted ${this.node === "" ? "on every node" : `on ${this.node}`}${left.length > 0 ? `; still quarantined on ${left.join("; ")}` : ""}`);
  }
}
