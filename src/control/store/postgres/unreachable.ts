/**
 * A PostgreSQL client's failure in words a caller of the control plane can act on: a database
 * that cannot be reached is a StoreUnreachable naming it, which calls answer UNAVAILABLE.
 */
import { StoreUnreachable } from "../store.js";

/** Bun's client's codes for a connection it could not make or lost, in words. */
const CONNECTION_FAILURES: Record<string, string> = {
  ERR_POSTGRES_CONNECTION_REFUSED: "connection refused",
  ERR_POSTGRES_CONNECTION_CLOSED: "connection closed",
  ERR_POSTGRES_CONNECTION_TIMEOUT: "connection timed out",
  ERR_POSTGRES_IDLE_TIMEOUT: "connection timed out",
};

/**
 * An error of the client in words a caller of the control plane can act on: a database that
 * cannot be reached is said to be one, naming it (the client's own "Failed to connect" would
 * read, to ctl, as the control plane itself being unreachable). Other errors pass unchanged.
 */
export function describeDatabaseError(err: unknown, location: string): Error {
  // drizzle wraps the client's error ("Failed query: …"): its cause says whether the database was reached.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (err instanceof Error && err.message.startsWith("Failed query") && cause !== undefined) {
    const said = describeDatabaseError(cause, location);
    return said instanceof StoreUnreachable ? said : refusal(err.message, said);
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const failure = typeof code === "string" ? CONNECTION_FAILURES[code] : undefined;
  // 57P01: the server is shutting down and terminated the connection (pg_ctl stop).
  const terminated = (err as { errno?: unknown } | undefined)?.errno === "57P01" || /terminating connection due to administrator command/.test(message);
  if (failure === undefined && !terminated && !/^(Failed to connect|Connection closed)/i.test(message)) return err instanceof Error ? err : new Error(message);
  return new StoreUnreachable(`the database cannot be reached (PostgreSQL at ${location}: ${failure ?? (terminated ? "the server is shutting down" : message.toLowerCase())})`);
}

/**
 * A statement PostgreSQL refused, said by its first words and PostgreSQL's reason: drizzle's own
 * message goes on to repeat the whole statement and every parameter, which for a commit is every
 * row of the turn (megabytes, in a log line and in every refused caller's answer).
 */
function refusal(failedQuery: string, reason: Error): Error {
  const statement = failedQuery.slice("Failed query: ".length).split(/\s+/).slice(0, 3).join(" ");
  const detail = (reason as { detail?: unknown }).detail;
  return new Error(`the database refused ${statement} …: ${reason.message}${typeof detail === "string" && detail !== "" ? ` (${detail})` : ""}`, { cause: reason });
}

/** Runs a read or write, a database that cannot be reached said in words (describeDatabaseError). */
export async function said<T>(location: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw describeDatabaseError(err, location);
  }
}
