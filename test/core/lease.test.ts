/**
 * The lease decisions (src/core/ha/lease.ts): every role × outcome, the deadline, the timing
 * refusals, the standby's message and the control-planes listing.
 */
import { describe, expect, test } from "bun:test";
import {
  checkLeaseTiming,
  describeControlPlanes,
  type Lease,
  type Leadership,
  type LeadershipStep,
  type LeaseOutcome,
  notLeaderMessage,
  onLeaseOutcome,
  onTick,
  retryAfter,
  stepDownAt,
} from "../../src/core/ha/lease.js";

const T = { ttlMs: 5_000, renewMs: 1_000 };
const lease = (over: Partial<Lease> = {}): Lease => ({ holder: "me", address: "a:7700", epoch: 3, renewedAt: 100, expiresAt: 5_100, ...over });
const STANDBY: Leadership = { role: "standby" };
const SUSPENDED = {
  leadership: { role: "standby", servingReads: true },
  action: { type: "Suspend", reason: "could not renew the lease in time; changes are refused, reads answered from memory until the database answers" },
} as const;
const LEADER: Leadership = { role: "leader", epoch: 3, until: 4_000 };

describe("onLeaseOutcome", () => {
  const cases: Array<[string, Leadership, LeaseOutcome, number, LeadershipStep]> = [
    ["a standby granted the lease leads in its epoch", STANDBY, { type: "Granted", lease: lease(), sentAt: 1_000 }, 1_010, { leadership: { role: "leader", epoch: 3, until: 5_000 }, action: { type: "Lead", epoch: 3 } }],
    ["a standby granted it too late does not lead", STANDBY, { type: "Granted", lease: lease(), sentAt: 1_000 }, 5_000, { leadership: STANDBY, action: { type: "None" } }],
    ["a standby refused stays one", STANDBY, { type: "Refused", lease: lease({ holder: "other" }) }, 10, { leadership: STANDBY, action: { type: "None" } }],
    ["a standby whose database fails stays one", STANDBY, { type: "Failed", reason: "down" }, 10, { leadership: STANDBY, action: { type: "None" } }],
    ["a leader's renewal moves its deadline", LEADER, { type: "Granted", lease: lease(), sentAt: 2_000 }, 2_005, { leadership: { role: "leader", epoch: 3, until: 6_000 }, action: { type: "None" } }],
    ["a renewal answered out of order never moves the deadline back", { role: "leader", epoch: 3, until: 7_000 }, { type: "Granted", lease: lease(), sentAt: 2_000 }, 2_005, { leadership: { role: "leader", epoch: 3, until: 7_000 }, action: { type: "None" } }],
    [
      "a renewal answered past the deadline steps down",
      LEADER,
      { type: "Granted", lease: lease(), sentAt: 1_000 },
      5_000,
      { leadership: STANDBY, action: { type: "StepDown", reason: "the lease renewal took 4000ms, too long to know it still holds" } },
    ],
    [
      "a grant in another epoch steps down",
      LEADER,
      { type: "Granted", lease: lease({ epoch: 4 }), sentAt: 2_000 },
      2_005,
      { leadership: STANDBY, action: { type: "StepDown", reason: "the lease moved to epoch 4 while leading in epoch 3" } },
    ],
    ["a refused leader steps down, naming the holder", LEADER, { type: "Refused", lease: lease({ holder: "b", address: "b:7700", epoch: 4 }) }, 10, { leadership: STANDBY, action: { type: "StepDown", reason: "the lease is held by b:7700 in epoch 4" } }],
    ["a leader whose database fails keeps leading until its deadline", LEADER, { type: "Failed", reason: "down" }, 3_999, { leadership: LEADER, action: { type: "None" } }],
    ["a leader whose database fails past its deadline stops writing and keeps answering reads", LEADER, { type: "Failed", reason: "down" }, 4_000, SUSPENDED],
    ["serving reads, a database still down changes nothing", SUSPENDED.leadership, { type: "Failed", reason: "down" }, 10, { leadership: SUSPENDED.leadership, action: { type: "None" } }],
    [
      "serving reads, the database back and the lease free again: leads in the new epoch",
      SUSPENDED.leadership,
      { type: "Granted", lease: lease({ epoch: 4 }), sentAt: 1_000 },
      1_010,
      { leadership: { role: "leader", epoch: 4, until: 5_000 }, action: { type: "Lead", epoch: 4 } },
    ],
    [
      "serving reads, the database back with the lease held by another: drops the term",
      SUSPENDED.leadership,
      { type: "Refused", lease: lease({ holder: "b", address: "b:7700", epoch: 4 }) },
      10,
      { leadership: STANDBY, action: { type: "StepDown", reason: "the lease is held by b:7700 in epoch 4" } },
    ],
    ["serving reads, a grant answered too late keeps serving reads", SUSPENDED.leadership, { type: "Granted", lease: lease(), sentAt: 1_000 }, 5_000, { leadership: SUSPENDED.leadership, action: { type: "None" } }],
  ];
  test.each(cases)("%s", (_what, current, outcome, now, expected) => {
    expect(onLeaseOutcome(current, outcome, now, T)).toEqual(expected);
  });
});

describe("onTick and the deadline", () => {
  test("the deadline is a renewal interval before the earliest expiry on our clock", () => {
    expect(stepDownAt(1_000, T)).toBe(5_000);
    // However the database's clock is set: only when the statement was sent matters.
    expect(stepDownAt(1_000, T)).toBeLessThan(1_000 + T.ttlMs);
  });
  test.each([
    [LEADER, 3_999, { leadership: LEADER, action: { type: "None" } }],
    [LEADER, 4_000, SUSPENDED],
    [STANDBY, 1e12, { leadership: STANDBY, action: { type: "None" } }],
  ] as Array<[Leadership, number, LeadershipStep]>)("%j at %d", (current, now, expected) => {
    expect(onTick(current, now)).toEqual(expected);
  });
});

test.each([
  [{ ttlMs: 5_000, renewMs: 1_000 }, undefined],
  [{ ttlMs: 3_000, renewMs: 1_000 }, undefined],
  [{ ttlMs: 500, renewMs: 100 }, "--lease-ttl: expected at least 1s, got 500ms"],
  [{ ttlMs: 5_000, renewMs: 2_000 }, "--lease-renew: expected between 50ms and a third of --lease-ttl (5000ms), got 2000ms"],
  [{ ttlMs: 5_000, renewMs: 0 }, "--lease-renew: expected between 50ms and a third of --lease-ttl (5000ms), got 0ms"],
  [{ ttlMs: Number.NaN, renewMs: 1_000 }, "--lease-ttl: expected at least 1s, got NaNms"],
])("checkLeaseTiming(%j)", (t, expected) => {
  expect(checkLeaseTiming(t)).toBe(expected);
});

test.each([
  ["no lease: the renewal interval", undefined, 0, 1_000],
  ["a live leader's lease, a TTL ahead: the renewal interval", lease({ expiresAt: 5_100 }), 100, 1_000],
  ["a lease running out within the interval: just past its expiry", lease({ expiresAt: 5_100 }), 4_700, 405],
  ["a lease already out: at once", lease({ expiresAt: 5_100 }), 6_000, 0],
] as Array<[string, Lease | undefined, number, number]>)("retryAfter: %s", (_, held, dbNow, expected) => {
  expect(retryAfter(held, dbNow, T)).toBe(expected);
});

test("a standby names the leader only while its lease is in force", () => {
  expect(notLeaderMessage(lease(), 5_000)).toBe("not the leader; the leader is at a:7700 (epoch 3)");
  expect(notLeaderMessage(lease(), 5_100)).toStartWith("not the leader; no control plane leads");
  expect(notLeaderMessage(undefined, 0)).toStartWith("not the leader; no control plane leads");
});

test("describeControlPlanes: leader first, standbys, then the gone; the long gone left out; each behind the newest commit by what it had not applied, the leader 0", () => {
  const members = [
    { id: "c", address: "c:7700", startedAt: 0, seenAt: 9_500, appliedSeq: 40 },
    { id: "me", address: "a:7700", startedAt: 0, seenAt: 9_900, appliedSeq: 38 },
    { id: "b", address: "b:7700", startedAt: 0, seenAt: 2_000, appliedSeq: 7 },
    { id: "old", address: "z:7700", startedAt: 0, seenAt: -100_000, appliedSeq: 0 },
  ];
  const rows = describeControlPlanes(members, lease({ renewedAt: 9_800, expiresAt: 14_800 }), 42, 10_000, T, 60_000);
  expect(rows).toEqual([
    { id: "me", address: "a:7700", role: "leader", epoch: 3, lastRenewal: 9_800, behind: 0 },
    { id: "c", address: "c:7700", role: "standby", epoch: 0, lastRenewal: 9_500, behind: 2 },
    { id: "b", address: "b:7700", role: "gone", epoch: 0, lastRenewal: 2_000, behind: 35 },
  ]);
  // An expired lease leads nobody; a report newer than the survey's newest is not ahead.
  const expired = describeControlPlanes(members, lease({ expiresAt: 9_000 }), 39, 10_000, T, 60_000);
  expect(expired.map((r) => [r.role, r.behind])).toEqual([
    ["standby", 1],
    ["standby", 0],
    ["gone", 32],
  ]);
});
