/** `tessera ctl` commands on nodes: get, describe, cordon, uncordon, drain, approve, remove. */
import { Command, Option } from "clipanion";
import { GetNodeResponse, ListNodesResponse } from "../../src/gen/tessera/v1/control_plane.js";
import { parseDuration } from "../duration.js";
import type { Ctl } from "../client.js";
import { age } from "../table.js";
import { CtlCommand, ShowCommand } from "./ctl-command.js";
import { GetCommand, type Listing } from "./get-command.js";
import { describeNode, formatNodeStatus, labelList, protoJson, renderDocument } from "./render.js";
import { waitForDrain } from "./waits.js";

export class GetNodesCommand extends GetCommand {
  static paths = [["ctl", "get", "nodes"], ["ctl", "get", "node"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "list nodes",
    examples: [
      ["List", "tessera ctl get nodes"],
      ["With labels", "tessera ctl get nodes -o wide"],
    ],
  });

  async list(ctl: Ctl): Promise<Listing> {
    const res = { nodes: await ctl.all(ctl.api.listNodes, {}, (r) => r.nodes), nextPageToken: "" };
    const now = Date.now();
    return {
      json: protoJson("tessera.v1.ListNodesResponse", ListNodesResponse, res),
      header: ["NAME", "STATUS", "EXECUTORS", "INSTANCES", "CPU", "MEMORY", "LAST-SEEN", "VERSION"],
      rows: res.nodes.map((n) => [
        n.name,
        formatNodeStatus(n),
        n.executors.join(","),
        String(n.instances),
        `${n.allocated?.cpuMillis ?? 0}m/${n.capacity?.cpuMillis ?? 0}m`,
        `${n.allocated?.memoryMb ?? 0}Mi/${n.capacity?.memoryMb ?? 0}Mi`,
        age(n.lastHeartbeat, now),
        n.version,
      ]),
      wideHeader: ["LABELS"],
      wideRows: res.nodes.map((n) => [labelList(n.labels)]),
      empty: "No nodes.",
    };
  }
}

/** A command on one node, named by its first argument. */
abstract class NodeCommand extends CtlCommand {
  name = Option.String({ required: true });
}

export class DescribeNodeCommand extends ShowCommand {
  static paths = [["ctl", "describe", "node"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "show a node's capacity, labels, ports, host volumes, instances and recent events",
    details: "-o json or yaml prints GetNode's response as proto3 JSON.",
    examples: [
      ["Describe node-a", "tessera ctl describe node node-a"],
      ["As YAML", "tessera ctl describe node node-a -o yaml"],
    ],
  });
  name = Option.String({ required: true });

  async runWith(ctl: Ctl) {
    const format = this.format();
    const res = await ctl.call(ctl.api.getNode, { name: this.name });
    this.out(format === "text" ? describeNode(res, Date.now()) : renderDocument(format, protoJson("tessera.v1.GetNodeResponse", GetNodeResponse, res)));
  }
}

export class CordonCommand extends NodeCommand {
  static paths = [["ctl", "cordon"]];
  static usage = Command.Usage({ category: "Nodes", description: "stop placing new instances on a node", examples: [["Cordon node-a", "tessera ctl cordon node-a"]] });
  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.cordonNode, { name: this.name });
    this.out(`node/${this.name} cordoned`);
  }
}

export class UncordonCommand extends NodeCommand {
  static paths = [["ctl", "uncordon"]];
  static usage = Command.Usage({ category: "Nodes", description: "allow placements on a node again (ends a drain)", examples: [["Uncordon node-a", "tessera ctl uncordon node-a"]] });
  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.uncordonNode, { name: this.name });
    this.out(`node/${this.name} uncordoned`);
  }
}

export class DrainCommand extends NodeCommand {
  static paths = [["ctl", "drain"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "move every instance off a node, replacements first, and wait until it is empty",
    details:
      "Out of --timeout it exits 1 naming each copy still on the node and what it waits for: its replacement (a Pending one says why no node fits, e.g. no other node offers docker) or, without one, what holds its workload's rollout. The drain goes on; `tessera ctl uncordon NODE` ends it.",
    examples: [
      ["Drain and wait", "tessera ctl drain node-a"],
      ["Start the drain only", "tessera ctl drain node-a --detach"],
    ],
  });
  detach = Option.Boolean("--detach", false, { description: "return once the drain has started" });
  timeout = Option.String("--timeout", "5m", { description: "how long to wait for the node to empty" });

  async runWith(ctl: Ctl) {
    const timeoutMs = parseDuration(this.timeout, "--timeout");
    await ctl.call(ctl.api.drainNode, { name: this.name });
    this.out(`node/${this.name} draining`);
    if (!this.detach) await waitForDrain(ctl, this.name, timeoutMs, this.context.stdout);
  }
}

export class NodeApproveCommand extends NodeCommand {
  static paths = [["ctl", "node", "approve"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "let the next enrollment with a join token take a node name that is enrolled already",
    details:
      "A node name, once enrolled, belongs to the certificate it got: a join token cannot enroll it again, so a stolen join token cannot take over a node. When a node's machine or data dir was replaced (or it was removed), approve it, then start its agent with the join token. Its earlier certificate stops working once the new one is issued.",
    examples: [["Approve node-a", "tessera ctl node approve node-a"]],
  });
  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.approveNode, { name: this.name });
    this.out(`node/${this.name} approved: the next enrollment with a join token may take it`);
  }
}

export class NodeRemoveCommand extends NodeCommand {
  static paths = [["ctl", "node", "remove"]];
  static usage = Command.Usage({
    category: "Nodes",
    description: "revoke a node: close its stream and refuse its certificates from now on",
    details: "Its copies are replaced elsewhere as for a node gone Offline. The name stays taken: to enroll it again, `node approve` it.",
    examples: [["Remove node-a", "tessera ctl node remove node-a"]],
  });
  async runWith(ctl: Ctl) {
    await ctl.call(ctl.api.removeNode, { name: this.name });
    this.out(`node/${this.name} removed: its certificates are refused`);
  }
}
