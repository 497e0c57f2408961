/**
 * What every `tessera ctl` command shares: where the control plane is and how to trust it; and
 * what those that show one thing share: text, or its structured form with -o json|yaml.
 */
import { Option } from "clipanion";
import { oneOf } from "../argv.js";
import { TesseraCommand } from "../base.js";
import { Ctl } from "../client.js";
import { defaultControl, localFile, readTrimmed } from "../defaults.js";

/** A ctl command: runs with a client to the control plane, closed when it is done. */
export abstract class CtlCommand extends TesseraCommand {
  control = Option.String("--control", { description: "control plane host:port, or several (a:7700,b:7700,c:7700): the leader among them is found and followed (default $TESSERA_CONTROL or 127.0.0.1:7700)" });
  token = Option.String("--token", { description: "API token (default $TESSERA_TOKEN, else the local data dir's admin-token)" });
  caFile = Option.String("--ca-file", { description: "CA certificate to trust (default: the local data dir's pki/ca.pem)" });
  insecure = Option.Boolean("--insecure", false, { description: "plaintext, for a control plane started with --insecure" });

  abstract runWith(ctl: Ctl): Promise<number | void>;

  async run(): Promise<number | void> {
    const ctl = new Ctl(this.control ?? defaultControl(), {
      insecure: this.insecure,
      token: this.token ?? (process.env.TESSERA_TOKEN || readTrimmed(localFile("admin-token"))),
      caPem: readTrimmed(this.caFile ?? localFile("pki", "ca.pem")),
    });
    try {
      return await this.runWith(ctl);
    } finally {
      ctl.close();
    }
  }
}

const SHOW_OUTPUTS = ["text", "json", "yaml"] as const;

/** A ctl command that prints text for people, or with -o json|yaml the response's proto3 JSON. */
export abstract class ShowCommand extends CtlCommand {
  output = Option.String("-o,--output", "text", { description: "text, json or yaml (the response as proto3 JSON)" });

  /** The chosen output, read before any call: a bad -o is a usage error. */
  protected format(): (typeof SHOW_OUTPUTS)[number] {
    return oneOf(this.output, "-o", SHOW_OUTPUTS);
  }
}
