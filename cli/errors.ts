/**
 * The errors commands turn into exit codes (cli/base.ts). A module of their own, so every
 * command can name them without loading what raises them (protobuf registries, gRPC clients).
 */
import type { status } from "@grpc/grpc-js";

/** A problem with the user's input (exit code 2). */
export class InputError extends Error {}

/** A failure reported by (or about reaching) the server (exit code 1, or 2 for the user's input). */
export class RemoteError extends Error {
  constructor(
    message: string,
    /** The gRPC status code, when the server answered. */
    readonly code?: status,
  ) {
    super(message);
  }
}
