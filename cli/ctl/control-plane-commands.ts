/** `tessera ctl get control-planes`: the control planes sharing the database, which leads, in which epoch, how far behind each is. */
import { Command } from "clipanion";
import { ControlPlaneRole, ListControlPlanesResponse } from "../../src/gen/tessera/v1/control_plane.js";
import type { Ctl } from "../client.js";
import { age } from "../table.js";
import { GetCommand, type Listing } from "./get-command.js";
import { protoJson } from "./render.js";

const ROLES: Record<ControlPlaneRole, string> = {
  [ControlPlaneRole.CONTROL_PLANE_ROLE_UNSPECIFIED]: "unknown",
  [ControlPlaneRole.CONTROL_PLANE_ROLE_LEADER]: "leader",
  [ControlPlaneRole.CONTROL_PLANE_ROLE_STANDBY]: "standby",
  [ControlPlaneRole.CONTROL_PLANE_ROLE_GONE]: "gone",
  [ControlPlaneRole.UNRECOGNIZED]: "unknown",
};

export class GetControlPlanesCommand extends GetCommand {
  static paths = [["ctl", "get", "control-planes"], ["ctl", "get", "control-plane"]];
  static usage = Command.Usage({
    category: "Control planes",
    description: "list the control planes sharing the database: address, role, the lease's epoch, last renewal, how far behind",
    details:
      "Several control planes on one PostgreSQL database (`--store`): one leads (holds the lease, in an epoch bumped at each takeover), the others stand by, following its committed events to answer reads and to lead from memory if it goes. BEHIND is how many committed events a control plane's state lacked when last heard (each --lease-renew); the leader's is 0. On SQLite, only the one control plane, leading in epoch 0. -o wide adds each one's id.",
    examples: [["List", "tessera ctl get control-planes"]],
  });

  async list(ctl: Ctl): Promise<Listing> {
    const res = await ctl.call(ctl.api.listControlPlanes, {});
    const now = Date.now();
    return {
      json: protoJson("tessera.v1.ListControlPlanesResponse", ListControlPlanesResponse, res),
      header: ["ADDRESS", "ROLE", "EPOCH", "LAST-RENEWAL", "BEHIND"],
      rows: res.controlPlanes.map((c) => [c.address, ROLES[c.role], String(c.epoch), c.lastRenewal ? age(c.lastRenewal, now) : "-", String(c.behind)]),
      wideHeader: ["ID"],
      wideRows: res.controlPlanes.map((c) => [c.id || "-"]),
      empty: "No control planes.",
    };
  }
}
