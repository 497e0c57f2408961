/**
 * What a control plane is started with (`tessera server`'s flags, or a test's): its own module,
 * so that the lifecycle (server, term, standby) and TLS read it without importing each other.
 */
import type { LeaseTiming } from "../../core/ha/lease.js";
import type { Policy } from "../../core/reconcile/reconcile.js";
import type { Logger } from "../../shell/logger.js";
import type { SnapshotSchedule } from "./scheduled-snapshots.js";

export interface ControlPlaneOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  dataDir: string;
  /**
   * Called each time this control plane starts leading, once its term serves (its CA and
   * token files in place): on SQLite before startControlPlane resolves; on PostgreSQL when it
   * takes the lease, perhaps never.
   */
  onLead?: () => void;
  /** postgres://USER@HOST:PORT/DB (`--store`): the state lives there; SQLite in the data dir without it. */
  store?: string;
  log: Logger;
  policy?: Policy;
  /** Periodic reconcile interval. */
  tickMs?: number;
  /** host:port for /metrics, /healthz and /readyz; none when unset. */
  metricsListen?: string;
  /** Plaintext and no credentials. Refused unless the caller checked it is acceptable (loopback, or forced). */
  insecure?: boolean;
  /** Extra names or addresses the server certificate must carry (what agents dial). */
  advertise?: string[];
  /** Lifetime of the server certificates this control plane issues (default 365 days; tests shorten it). */
  serverCertLifetimeMs?: number;
  /** How often the server certificate is checked for renewal (default hourly). */
  certCheckMs?: number;
  /** Start the cluster over with an empty state when its database is refused (emptied, replaced, damaged). */
  reinitialize?: boolean;
  /** The lease on leadership, on PostgreSQL (`--lease-ttl`, `--lease-renew`; default 5 s and 1 s). */
  lease?: LeaseTiming;
  /**
   * Seals the cluster CA's key in the database (`--ca-secret-file` or `$TESSERA_CA_SECRET`):
   * required with `store` unless insecure; every control plane on the database gets the same.
   */
  caSecret?: string;
  /** Scheduled snapshots into DATA_DIR/snapshots while leading (`--snapshot-every`, `--snapshot-keep`); none: off. */
  snapshots?: SnapshotSchedule;
}
