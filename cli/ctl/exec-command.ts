/** `tessera ctl exec`: a command in a running copy, its output here, its exit code as ours. */
import { type ClientDuplexStream, status } from "@grpc/grpc-js";
import { Command, Option } from "clipanion";
import type { ExecRequest, ExecResponse } from "../../src/gen/tessera/v1/control_plane.js";
import type { Ctl } from "../client.js";
import { CtlCommand } from "./ctl-command.js";

/** What a shell reports for a command ended by Ctrl-C. */
const INTERRUPTED = 130;

export class ExecCommand extends CtlCommand {
  static paths = [["ctl", "exec"]];
  static usage = Command.Usage({
    category: "Workloads",
    description: "run a command in a running copy of a workload, on its node",
    details: `
      Runs the command after \`--\` inside a copy's container (as \`docker exec -i\`), or for a process copy with its environment and working directory. Its stdout and stderr are printed here as they come, and its exit code is this command's. Stdin is forwarded when it is not a terminal. Ctrl-C sends SIGINT to the command; a second Ctrl-C leaves it killed. Needs an admin token; each exec is recorded in the workload's history (the command, not its output).
    `,
    examples: [
      ["Print a copy's environment", "tessera ctl exec web -- env"],
      ["Run a script in web-1", "tessera ctl exec web --instance web-1 -- sh -c 'ls -l /data'"],
      ["Feed it input", "echo 'select 1;' | tessera ctl exec db -- psql"],
    ],
  });
  workload = Option.String({ required: true });
  instance = Option.String("--instance", { description: "this copy (web-1, or an id like web-1.3); default: the first running copy" });
  command = Option.Rest({ required: 1 });

  async runWith(ctl: Ctl): Promise<number> {
    await ctl.findLeader();
    const call: ClientDuplexStream<ExecRequest, ExecResponse> = ctl.api.exec();
    const forwardStdin = !process.stdin.isTTY;
    call.write({ request: { $case: "start", value: { workload: this.workload, instance: this.instance ?? "", command: this.command, stdin: forwardStdin } } });
    let interrupts = 0;
    const onInterrupt = () => {
      if (++interrupts === 1) call.write({ request: { $case: "signal", value: "SIGINT" } });
      else call.cancel();
    };
    process.on("SIGINT", onInterrupt);
    const finished = new Promise<number>((resolve, reject) => {
      call.on("data", (res: ExecResponse) => {
        switch (res.response?.$case) {
          case "stdout":
            this.context.stdout.write(res.response.value);
            break;
          case "stderr":
            this.context.stderr.write(res.response.value);
            break;
          case "exit":
            resolve(res.response.value.exitCode);
            break;
        }
      });
      call.on("error", (err: { code: status; details: string }) => {
        if (err.code === status.CANCELLED) return resolve(INTERRUPTED);
        reject(ctl.toRemoteError(err));
      });
      call.on("end", () => reject(new Error("the control plane ended the exec without its exit code")));
    });
    if (forwardStdin) void this.sendStdin(call);
    try {
      return await finished;
    } finally {
      process.off("SIGINT", onInterrupt);
      call.end();
    }
  }

  /** Stdin, as it comes, then its end. The call stays open for a Ctrl-C's signal. */
  private async sendStdin(call: ClientDuplexStream<ExecRequest, ExecResponse>): Promise<void> {
    try {
      for await (const chunk of Bun.stdin.stream()) call.write({ request: { $case: "stdin", value: Buffer.from(chunk) } });
    } catch {
      // Stdin could not be read further: it ends here.
    }
    if (!call.writableEnded) call.write({ request: { $case: "stdinEof", value: true } });
  }
}
