/**
 * The flags of `tessera control`, `tessera agent` and `tessera dev`, one row each (see
 * flag-table.ts): in help order, which is also the order of a config file's keys in its errors.
 * Defaults the core decides with (node health, lease timing, placement, the port range) are
 * read from its constants, not written again here.
 */
import { formatDurationMs } from "../src/core/model/duration.js";
import { DEFAULT_PORT_RANGE } from "../src/core/model/ports.js";
import { DEFAULT_LEASE_TIMING } from "../src/core/ha/lease.js";
import { DEFAULT_POLICY } from "../src/core/reconcile/reconcile.js";
import { DEFAULT_PIDS_MAX } from "../src/agent/process-executor.js";
import { DEFAULT_DNS_LISTEN, DEFAULT_LISTEN, DEFAULT_METRICS_LISTEN, defaultControl, defaultDataDir } from "./defaults.js";
import type { Flag, FlagTable } from "./flag-table.js";

const listen = { kind: "string", default: DEFAULT_LISTEN, help: "host:port to serve gRPC on (default {default})" } satisfies Flag;

const dataDir = {
  kind: "string",
  default: defaultDataDir,
  help: "state directory, only its owner's (made 0700; one others can use is refused) (default $TESSERA_DATA_DIR or ~/.tessera)",
} satisfies Flag;

const dnsListen = {
  kind: "string",
  default: DEFAULT_DNS_LISTEN,
  help: 'host:port to answer DNS on for tessera. names: A for <workload>.tessera, SRV for _<port>._<tcp|udp>.<workload>.tessera, from the control plane\'s endpoints (default {default}; "" turns it off)',
} satisfies Flag;

const hostVolume = {
  kind: "strings",
  help: "a directory copies on this node may use, NAME=PATH (:ro appended: read-only), named by workloads' spec.volumes; containers get it mounted, processes its path in TESSERA_VOLUME_<NAME> (repeatable)",
} satisfies Flag;

const reinitialize = {
  kind: "boolean",
  // A one-off act, not a setting to leave in a file.
  flagOnly: true,
  help: "when the data dir's database is refused (emptied, replaced, another cluster's, damaged): move it aside and start this cluster over with an empty state, keeping its CA and tokens",
} satisfies Flag;

export const CONTROL_FLAGS = {
  config: { kind: "string", flagOnly: true, help: 'TOML file whose keys mirror these flags (e.g. offline-after = "10s")' },
  listen,
  "data-dir": dataDir,
  store: {
    kind: "string",
    default: () => process.env.TESSERA_STORE ?? "",
    help: "keep the cluster's state in PostgreSQL, postgres://USER@HOST:PORT/DB (default $TESSERA_STORE; unset: SQLite in the data dir); give a URL with a password through $TESSERA_STORE, not on a command line others can read",
  },
  placement: { kind: "string", default: DEFAULT_POLICY.placement, help: "placement strategy: {default} (default) or binpack" },
  "suspect-after": { kind: "string", default: formatDurationMs(DEFAULT_POLICY.suspectAfterMs), help: "heartbeat silence after which a node is Suspect (default {default})" },
  "offline-after": { kind: "string", default: formatDurationMs(DEFAULT_POLICY.offlineAfterMs), help: "heartbeat silence after which a node is Offline and its instances replaced (default {default})" },
  "max-heartbeats-per-second": {
    kind: "string",
    default: String(DEFAULT_POLICY.maxHeartbeatsPerSecond),
    help: "the whole fleet's heartbeats a second, at most: past this many nodes every agent is told a longer interval (whole seconds) and --suspect-after and --offline-after grow with it (default {default}: up to that many nodes beat every second, with those thresholds as given)",
  },
  "start-grace": {
    kind: "string",
    default: formatDurationMs(DEFAULT_POLICY.startGraceMs),
    help: "after a start, how long nodes not heard yet have to reconnect before their silence counts (default {default}): a restart must not replace what kept running",
  },
  tick: { kind: "string", default: "2s", help: "interval of the periodic reconcile pass (default {default})" },
  "metrics-listen": {
    kind: "string",
    default: DEFAULT_METRICS_LISTEN,
    help: 'host:port for the web page (/), /metrics, /healthz, /readyz; HTTPS beyond loopback (default {default}; "" turns it off)',
  },
  "lease-ttl": {
    kind: "string",
    default: formatDurationMs(DEFAULT_LEASE_TIMING.ttlMs),
    help: "with --store postgres://…: how long the leader's lease lasts on the database's clock; a standby takes over this long after a leader that froze or lost its host; one whose process died is replaced at the next attempt (default {default})",
  },
  "ca-secret-file": {
    kind: "string",
    help: "with --store postgres://… (required there): a file holding the secret, at least 16 characters, that seals the cluster CA's key in the database; the same for every control plane on it (default: the secret itself in $TESSERA_CA_SECRET)",
  },
  "lease-renew": {
    kind: "string",
    default: formatDurationMs(DEFAULT_LEASE_TIMING.renewMs),
    help: "with --store postgres://…: how often the leader renews its lease and a standby tries to take it (and catches up with the leader's commits, should a notification of one be lost), at most a third of --lease-ttl (default {default})",
  },
  insecure: { kind: "count", help: "plaintext and no credentials (every gRPC caller is admin; the web page is read-only); only on a loopback address unless given twice" },
  advertise: {
    kind: "strings",
    help: "another name or address agents dial (repeatable); goes into the server certificate, and the first names a wildcard --listen to the other control planes (default: the host's first IPv4 address)",
  },
  reinitialize,
  "snapshot-every": { kind: "string", default: "12h", help: "while leading, save a snapshot into DATA_DIR/snapshots this often (default {default}; 0 turns it off)" },
  "snapshot-keep": { kind: "string", default: "5", help: "how many scheduled snapshots to keep, the newest (default {default})" },
  restore: {
    kind: "string",
    flagOnly: true,
    help: "start from a snapshot (`tessera ctl snapshot save`): its database, CA and token files go into --data-dir, which must hold no database; with --store postgres://…, its tables go into that database, which must be empty; a truncated or damaged file, or the other store's snapshot, is refused",
  },
} satisfies FlagTable;

export const AGENT_FLAGS = {
  config: { kind: "string", flagOnly: true, help: 'TOML file whose keys mirror these flags (e.g. name = "node-a", label = ["zone=a"])' },
  control: {
    kind: "list",
    default: defaultControl,
    help: `control plane host:port, or several (a:7700,b:7700,c:7700): the agent finds the leader among them and moves to the next when it goes (default $TESSERA_CONTROL or ${DEFAULT_LISTEN})`,
  },
  name: { kind: "string", help: "this node's name, unique in the fleet (required, here or in --config)" },
  simulated: { kind: "boolean", help: "run nothing for real (same as --executor simulated)" },
  executor: { kind: "string", default: "process", help: "{default} (default), docker, or both (process,docker); or simulated" },
  "data-dir": {
    ...dataDir,
    help: "where instance records and logs go, one agent's own, only its owner's (made 0700; one others can use is refused) (default $TESSERA_DATA_DIR or ~/.tessera)",
  },
  label: { kind: "strings", help: "node label key=value (repeatable), matched by node_selector and by placement spread and affinity" },
  "cpu-millis": { kind: "string", help: "CPU offered, in millicores (default: all cores)" },
  "memory-mb": { kind: "string", help: "memory offered, in MiB (default: all memory)" },
  heartbeat: { kind: "string", default: "1s", help: "interval between heartbeats (default {default})" },
  "advertise-address": { kind: "string", help: "IPv4 address copies on this node are reached at (default: the host's first non-loopback IPv4 address)" },
  "port-range": { kind: "string", help: `range dynamic ports are taken from (default ${DEFAULT_PORT_RANGE.from}-${DEFAULT_PORT_RANGE.to})` },
  "reserved-ports": { kind: "strings", help: "ports or ranges never given to copies, e.g. 22,8000-8100 (repeatable)" },
  "host-volume": hostVolume,
  "pass-env": {
    kind: "strings",
    help: "a variable of the agent's environment that process copies, their checks and exec get too (repeatable); otherwise they get only PATH, HOME, LANG and their own TESSERA_ variables",
  },
  cgroups: {
    kind: "string",
    default: "auto",
    help: "{default} (default): hold each process copy to the resources its spec states and a pids limit, in a cgroup of its own (v2, else v1); off: do not (the node then says limits: not enforced)",
  },
  "pids-limit": { kind: "string", help: `most processes a process copy may have at once, with cgroups (default ${DEFAULT_PIDS_MAX})` },
  "allow-unenforced-limits": {
    kind: "boolean",
    help: "where this agent cannot enforce limits (no usable cgroups, or --cgroups off), still take process copies whose spec states resources (otherwise they are placed elsewhere)",
  },
  "dns-listen": dnsListen,
  "sim-start-delay": { kind: "string", default: "0ms", help: "simulated executor: time a start takes (default {default})" },
  "sim-failure-rate": { kind: "string", default: "0", help: "simulated executor: share of starts that fail, 0 to 1 (default {default})" },
  "join-token": { kind: "string", help: "to enroll this node (default: the local control plane's data dir join-token)" },
  "ca-hash": { kind: "string", help: "sha256:... of the control plane's CA, to trust it on first contact" },
  "ca-file": { kind: "string", help: "the control plane's CA certificate (default: the local data dir's pki/ca.pem)" },
  insecure: { kind: "boolean", help: "plaintext, for a control plane started with --insecure" },
} satisfies FlagTable;

/** `tessera dev` is zero-configuration: no config file, and only what a sandbox may want changed. */
export const DEV_FLAGS = {
  listen,
  "data-dir": dataDir,
  name: { kind: "string", default: "node-a", help: "the local node's name (default {default})" },
  reinitialize,
  "host-volume": hostVolume,
  "dns-listen": dnsListen,
} satisfies FlagTable;
