/** Command-line words before clipanion reads them, and its errors made plainer. */
import { describe, expect, test } from "bun:test";
import { dedupeSuggestions, hoistCtlOptions, missingRequiredOption } from "../../cli/argv.js";

describe("hoistCtlOptions: ctl's global flags anywhere before the command path, as kubectl takes them", () => {
  test.each([
    [["ctl", "--token", "T", "get", "nodes"], ["ctl", "get", "nodes", "--token", "T"]],
    [["ctl", "--ca-file", "ca.pem", "--insecure", "get", "nodes"], ["ctl", "get", "nodes", "--ca-file", "ca.pem", "--insecure"]],
    [["ctl", "--control=a:1", "--token=T", "apply", "-f", "x"], ["ctl", "apply", "-f", "x", "--control=a:1", "--token=T"]],
    [["ctl", "get", "--token", "T", "nodes", "-o", "json"], ["ctl", "get", "nodes", "-o", "json", "--token", "T"]],
    [["ctl", "get", "nodes", "--token", "T"], ["ctl", "get", "nodes", "--token", "T"]],
    // After `--` every word is the command exec runs.
    [["ctl", "--token", "T", "exec", "web", "--", "env", "--token", "x"], ["ctl", "exec", "web", "--token", "T", "--", "env", "--token", "x"]],
    [["agent", "--token", "T"], ["agent", "--token", "T"]],
  ])("%j → %j", (given, moved) => {
    expect(hoistCtlOptions(given)).toEqual(moved);
  });
});

describe("missingRequiredOption", () => {
  const candidates = [
    { usage: "tessera ctl apply [--control #0] [--token #0] <-f,--file #0> [--wait] [--timeout #0]" },
    { usage: "tessera ctl plan [--control #0] <-f,--file #0> [-o,--output #0]" },
  ];
  test("names the option a command's path lacks", () => {
    expect(missingRequiredOption(["ctl", "apply", "--wait"], candidates)).toBe("-f FILE is required; see `tessera ctl apply --help`");
    expect(missingRequiredOption(["ctl", "plan", "-o", "json"], candidates)).toBe("-f FILE is required; see `tessera ctl plan --help`");
  });
  test("nothing when the option is there, or the words name no command", () => {
    expect(missingRequiredOption(["ctl", "apply", "--file=x", "--bogus"], candidates)).toBeUndefined();
    expect(missingRequiredOption(["ctl", "frobnicate"], candidates)).toBeUndefined();
  });
});

test("dedupeSuggestions lists each usage once, numbered again", () => {
  const text = ["Command not found; did you mean one of:", "", "  0. tessera ctl get workloads", "  1. tessera ctl get workloads", "  2. tessera ctl get nodes", "  3. tessera ctl get nodes", "", "While running ctl get"].join("\n");
  expect(dedupeSuggestions(text)).toBe(["Command not found; did you mean one of:", "", "  0. tessera ctl get workloads", "  1. tessera ctl get nodes", "", "While running ctl get"].join("\n"));
});
