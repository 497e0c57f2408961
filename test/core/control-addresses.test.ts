import { describe, expect, test } from "bun:test";
import { isNotLeader, leaderNamedIn, nextAfter, nextUntried, parseAddressList } from "../../src/core/ha/control-addresses.js";

describe("parseAddressList", () => {
  test.each([
    ["127.0.0.1:7700", ["127.0.0.1:7700"]],
    ["a:7700,b:7700,c:7700", ["a:7700", "b:7700", "c:7700"]],
    ["a:7700, b:7701 ", ["a:7700", "b:7701"]],
    ["[::1]:7700,a.example:1", ["[::1]:7700", "a.example:1"]],
    ["a:7700,a:7700", ["a:7700"]],
  ])("%p → %p", (text, addresses) => {
    expect(parseAddressList(text, "--control")).toEqual({ ok: true, addresses });
  });

  test.each([
    ["", '--control: expected host:port[,host:port...], got "" (an empty address)'],
    ["a:7700,", '--control: expected host:port[,host:port...], got "a:7700," (an empty address)'],
    ["a", '--control: expected host:port[,host:port...], got "a" ("a" is not host:port)'],
    ["a:7700;b:7700", '--control: expected host:port[,host:port...], got "a:7700;b:7700" ("a:7700;b:7700" is not host:port)'],
    ["a:99999", '--control: expected host:port[,host:port...], got "a:99999" ("a:99999" is not host:port)'],
    ["a:x", '--control: expected host:port[,host:port...], got "a:x" ("a:x" is not host:port)'],
  ])("%p is refused, naming the flag", (text, error) => {
    expect(parseAddressList(text, "--control")).toEqual({ ok: false, error });
  });
});

describe("leaderNamedIn / isNotLeader", () => {
  test.each([
    ["not the leader; the leader is at 127.0.0.1:41234 (epoch 7)", true, "127.0.0.1:41234"],
    ["not the leader; the leader is at cp-b.internal:7700 (epoch 12)", true, "cp-b.internal:7700"],
    ["not the leader; no control plane leads at the moment (a standby takes over within the lease's TTL)", true, undefined],
    ["not the leader; this control plane just stepped down (renewal refused)", true, undefined],
    ["node n1, which is not connected", false, undefined],
  ])("%p", (details, refusal, named) => {
    expect(isNotLeader(details)).toBe(refusal);
    expect(leaderNamedIn(details)).toBe(named);
  });
});

describe("nextUntried (ctl: each address at most once)", () => {
  const list = ["a:1", "b:1", "c:1"];
  test.each([
    [[], undefined, "a:1"],
    [["a:1"], undefined, "b:1"],
    [["a:1"], "c:1", "c:1"],
    [["a:1"], "z:1", "z:1"],
    [["a:1", "c:1"], "a:1", "b:1"],
    [["a:1", "b:1", "c:1"], undefined, undefined],
    [["a:1", "b:1", "c:1"], "b:1", undefined],
  ] as Array<[string[], string | undefined, string | undefined]>)("tried %p, named %p → %p", (tried, named, next) => {
    expect(nextUntried(list, tried, named)).toBe(next);
  });
});

describe("nextAfter (agents: round and round)", () => {
  const list = ["a:1", "b:1", "c:1"];
  test.each([
    ["a:1", undefined, "b:1"],
    ["c:1", undefined, "a:1"],
    ["a:1", "c:1", "c:1"],
    ["a:1", "a:1", "b:1"],
    ["z:1", undefined, "a:1"],
    ["a:1", "z:1", "z:1"],
  ] as Array<[string, string | undefined, string]>)("at %p, named %p → %p", (current, named, next) => {
    expect(nextAfter(list, current, named)).toBe(next);
  });
  test("one address: stays on it", () => expect(nextAfter(["a:1"], "a:1", undefined)).toBe("a:1"));
});
