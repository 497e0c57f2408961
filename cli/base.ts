/**
 * What every `tessera` command shares: expected errors become one line on stderr and an exit
 * code (2 for usage and input errors, 1 for failures the server or the system reports); no
 * stack traces for them.
 */
import { status } from "@grpc/grpc-js";
import { Command, UsageError } from "clipanion";
import { InputError, RemoteError } from "./errors.js";

export abstract class TesseraCommand extends Command {
  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (err) {
      return this.fail(err);
    }
  }

  protected fail(err: unknown): number {
    if (err instanceof InputError || err instanceof UsageError) {
      this.context.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof RemoteError) {
      this.context.stderr.write(`error: ${err.message}\n`);
      // The server refusing our input is an input error, like a bad file.
      return err.code === status.INVALID_ARGUMENT ? 2 : 1;
    }
    if (err instanceof Error && !process.env.TESSERA_DEBUG) {
      this.context.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  protected out(text: string): void {
    this.context.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }
}
