/**
 * The instance state machine, exhaustively: every state × every event, against a table
 * written out here by hand (not derived from TRANSITIONS, so a changed entry fails).
 */
import { describe, expect, test } from "bun:test";
import {
  INSTANCE_EVENT_TYPES,
  INSTANCE_STATES,
  type InstanceEvent,
  type InstanceEventType,
  type InstanceState,
  isLive,
  isNonTerminal,
  isReportedState,
  occupiesNode,
  pathBetween,
  transition,
} from "../../src/core/model/instance-machine.js";

/** One sample of each event type; the payload does not affect the target state. */
const SAMPLE: { [E in InstanceEventType]: Extract<InstanceEvent, { type: E }> } = {
  place: { type: "place", node: "n1" },
  provision: { type: "provision" },
  run: { type: "run" },
  fail: { type: "fail", reason: "exited with code 1", exitCode: 1 },
  stop: { type: "stop", reason: "requested" },
  finish: { type: "finish", exitCode: 0 },
  lose: { type: "lose" },
  reclaim: { type: "reclaim" },
  succeed: { type: "succeed" },
};

type Cell = InstanceState | "-";
const _ = "-";

// prettier-ignore
const COLUMNS = ["place",     "provision",    "run",     "fail",   "stop",     "finish",  "lose", "reclaim", "succeed"] as const;
// prettier-ignore
const EXPECTED: Record<InstanceState, readonly Cell[]> = {
  pending:      ["scheduled", _,              _,         _,        "stopped",  _,         _,      _,         _          ],
  scheduled:    [_,           "provisioning", _,         "failed", "stopping", _,         "lost", _,         _          ],
  provisioning: [_,           _,              "running", "failed", "stopping", _,         "lost", _,         "succeeded"],
  running:      [_,           _,              _,         "failed", "stopping", _,         "lost", _,         "succeeded"],
  failed:       [_,           _,              _,         _,        "stopping", _,         _,      _,         _          ],
  stopping:     [_,           _,              _,         "failed", _,          "stopped", "lost", _,         _          ],
  stopped:      [_,           _,              _,         _,        _,          _,         _,      _,         _          ],
  lost:         [_,           _,              _,         _,        _,          "stopped", _,      "running", _          ],
  succeeded:    [_,           _,              _,         _,        _,          _,         _,      _,         _          ],
};

describe("the table above covers the machine", () => {
  test("its columns are exactly the event types, in order", () => {
    expect([...COLUMNS]).toEqual([...INSTANCE_EVENT_TYPES]);
  });
  test("its rows are exactly the states", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...INSTANCE_STATES].sort());
  });
});

const cases = INSTANCE_STATES.flatMap((from) =>
  COLUMNS.map((event, i) => ({ from, event, to: EXPECTED[from][i] as Cell })),
);

describe("transition(state, event) for every pair", () => {
  test.each(cases)("$from + $event → $to", ({ from, event, to }) => {
    const result = transition(from, SAMPLE[event]);
    if (to === "-") expect(result).toEqual({ ok: false, rejection: { kind: "InvalidTransition", from, event } });
    else expect(result).toEqual({ ok: true, state: to });
  });

  test("the matrix has 9 × 9 cells, 21 of them allowed", () => {
    expect(cases).toHaveLength(81);
    expect(cases.filter((c) => c.to !== "-")).toHaveLength(21);
  });
});

describe("pathBetween", () => {
  test.each([
    { from: "scheduled", to: "running", path: ["provision", "run"] },
    { from: "pending", to: "running", path: ["place", "provision", "run"] },
    { from: "running", to: "stopped", path: ["stop", "finish"] },
    { from: "failed", to: "stopped", path: ["stop", "finish"] },
    { from: "lost", to: "stopped", path: ["finish"] },
    { from: "provisioning", to: "failed", path: ["fail"] },
    { from: "running", to: "running", path: [] },
    { from: "stopped", to: "stopped", path: [] },
    // A batch copy whose exit 0 a reconnecting agent reports.
    { from: "scheduled", to: "succeeded", path: ["provision", "succeed"] },
    { from: "running", to: "succeeded", path: ["succeed"] },
  ] as const)("$from → $to = $path", ({ from, to, path }) => {
    expect(pathBetween(from, to)).toEqual([...path]);
  });

  test.each([
    { from: "stopped", to: "running" },
    { from: "running", to: "pending" },
    { from: "failed", to: "running" },
    { from: "stopping", to: "running" },
    // Only the control plane reclaims a Lost copy (decide/agent-sessions.ts); no report implies it.
    { from: "lost", to: "running" },
    { from: "lost", to: "stopping" },
    // Done is done: a succeeded run neither fails nor runs again.
    { from: "succeeded", to: "failed" },
    { from: "succeeded", to: "running" },
    { from: "failed", to: "succeeded" },
  ] as const)("$from → $to is unreachable", ({ from, to }) => {
    expect(pathBetween(from, to)).toBeUndefined();
  });

  test("every path it returns is accepted step by step by transition()", () => {
    for (const from of INSTANCE_STATES) {
      for (const to of INSTANCE_STATES) {
        const path = pathBetween(from, to);
        if (path === undefined) continue;
        let at: InstanceState = from;
        for (const type of path) {
          const r = transition(at, SAMPLE[type]);
          if (!r.ok) throw new Error(`pathBetween(${from}, ${to}) = ${path.join(",")} fails at ${type} from ${at}`);
          at = r.state;
        }
        expect(at).toBe(to);
      }
    }
  });
});

describe("state predicates", () => {
  // prettier-ignore
  const PREDICATES: Array<[InstanceState, { reported: boolean; live: boolean; occupies: boolean; nonTerminal: boolean }]> = [
    ["pending",      { reported: false, live: false, occupies: false, nonTerminal: true  }],
    ["scheduled",    { reported: false, live: true,  occupies: true,  nonTerminal: true  }],
    ["provisioning", { reported: true,  live: true,  occupies: true,  nonTerminal: true  }],
    ["running",      { reported: true,  live: true,  occupies: true,  nonTerminal: true  }],
    ["failed",       { reported: true,  live: false, occupies: false, nonTerminal: false }],
    ["stopping",     { reported: false, live: false, occupies: true,  nonTerminal: true  }],
    ["stopped",      { reported: true,  live: false, occupies: false, nonTerminal: false }],
    ["lost",         { reported: false, live: false, occupies: false, nonTerminal: false }],
    ["succeeded",    { reported: false, live: false, occupies: false, nonTerminal: false }],
  ];

  test("the table lists every state", () => {
    expect(PREDICATES.map(([s]) => s)).toEqual([...INSTANCE_STATES]);
  });

  test.each(PREDICATES)("%s", (state, want) => {
    expect({
      reported: isReportedState(state),
      live: isLive(state),
      occupies: occupiesNode(state),
      nonTerminal: isNonTerminal(state),
    }).toEqual(want);
  });
});
