/**
 * How tests ask for system tools (need.ts): a missing one skips them with a line naming it and
 * its Debian package, and fails them instead under TESSERA_CI=1; and packages.ts, the one list,
 * names every test that asks for a tool, and only those.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { judgeTools, needsRoot, needTools } from "./need.js";
import { SYSTEM_PACKAGES } from "./packages.js";

const ROOT = join(import.meta.dir, "..", "..");
const only = (...here: string[]) => (program: string) => here.includes(program);

describe("judging what is here", () => {
  test("a missing program names itself and the package that brings it; tests skip, but not under CI", () => {
    const judged = judgeTools(["dig", "curl"], () => undefined, { ci: false, found: only("curl") });
    expect(judged).toEqual({ available: false, skip: true, reason: "dig is missing: Debian package dnsutils, which make test installs when run as root" });
    expect(judgeTools(["dig", "curl"], () => undefined, { ci: true, found: only("curl") })).toMatchObject({ available: false, skip: false });
  });

  test("every missing program is named; a package is missing when any of its programs is", () => {
    const judged = judgeTools(["docker", "chromium"], () => undefined, { ci: false, found: only("docker") });
    expect(judged.reason).toBe("dockerd, /usr/bin/chromium are missing: Debian packages docker.io, chromium, which make test installs when run as root");
  });

  test("what is needed beyond packages is asked only once the tools are here", () => {
    let asked = 0;
    const otherwise = () => {
      asked++;
      return "no Docker engine answers";
    };
    expect(judgeTools(["docker"], otherwise, { ci: false, found: only() }).reason).toStartWith("docker is missing");
    expect(asked).toBe(0);
    expect(judgeTools(["docker"], otherwise, { ci: false, found: only("docker", "dockerd") })).toEqual({ available: false, skip: true, reason: "no Docker engine answers" });
    expect(judgeTools(["docker"], () => undefined, { ci: false, found: only("docker", "dockerd") })).toEqual({ available: true, skip: false, reason: undefined });
  });

  test("root, when a test needs it, is asked of the process", () => {
    const uid = spyOn(process, "getuid");
    try {
      uid.mockReturnValue(1000);
      expect(judgeTools([], needsRoot("mounting a tmpfs"), { ci: false })).toEqual({ available: false, skip: true, reason: "mounting a tmpfs needs root" });
      uid.mockReturnValue(0);
      expect(judgeTools([], needsRoot("mounting a tmpfs"), { ci: false }).available).toBe(true);
    } finally {
      uid.mockRestore();
    }
  });
});

describe("needTools", () => {
  const saved = { ci: process.env.TESSERA_CI, path: process.env.PATH };
  afterEach(() => {
    for (const [key, value] of [["TESSERA_CI", saved.ci], ["PATH", saved.path]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  /** needTools with dig off PATH (it is in /usr/bin, never /usr/sbin or /sbin). */
  const withoutDig = (ci: boolean) => {
    process.env.PATH = "/nonexistent";
    if (ci) process.env.TESSERA_CI = "1";
    else delete process.env.TESSERA_CI;
    const warn = spyOn(console, "warn").mockImplementation(() => {});
    try {
      return { need: needTools("the DNS tests", ["dig"]), lines: warn.mock.calls.map((c) => String(c[0])) };
    } finally {
      warn.mockRestore();
    }
  };
  const why = "dig is missing: Debian package dnsutils, which make test installs when run as root";

  test("outside CI: one SKIP line naming the tool and its package; require() says the same", () => {
    const { need, lines } = withoutDig(false);
    expect(need).toMatchObject({ available: false, skip: true });
    expect(lines).toEqual([`SKIP the DNS tests: ${why}; under TESSERA_CI=1 this fails`]);
    expect(() => need.require()).toThrow(`the DNS tests cannot run: ${why}`);
  });

  test("under TESSERA_CI=1: no skip, and require() fails the tests naming the package", () => {
    const { need, lines } = withoutDig(true);
    expect(need).toMatchObject({ available: false, skip: false });
    expect(lines).toEqual([]);
    expect(() => need.require()).toThrow(`the DNS tests cannot run: ${why}`);
  });
});

/** Every .ts file under test/, as a path from the repository's root. */
function testSources(dir = join(ROOT, "test")): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "fixtures" ? [] : testSources(path);
    return e.name.endsWith(".ts") ? [relative(ROOT, path)] : [];
  });
}

test("the list names exactly the files that ask for each tool (needTools, judgeTools, labSuite), and they exist", () => {
  const asked = new Map<string, Set<string>>();
  for (const file of testSources().filter((f) => !f.startsWith("test/system-packages/"))) {
    for (const call of readFileSync(join(ROOT, file), "utf8").matchAll(/\b(?:needTools|judgeTools|labSuite)\([^;]*?\[([^\]]*)\]/g)) {
      for (const [, tool] of call[1]!.matchAll(/"([^"]+)"/g)) asked.set(tool!, (asked.get(tool!) ?? new Set()).add(file));
    }
  }
  const listed = new Map(SYSTEM_PACKAGES.map((p) => [p.tool, new Set<string>(p.tests)]));
  expect([...asked.keys()].sort()).toEqual([...listed.keys()].sort());
  for (const [tool, files] of listed) expect({ tool, files: [...files].sort() }).toEqual({ tool, files: [...(asked.get(tool) ?? [])].sort() });
  for (const p of SYSTEM_PACKAGES) for (const file of p.tests) expect(existsSync(join(ROOT, file))).toBe(true);
});

test(".ci/run installs exactly the packages of the list, so a fresh CI machine has every tool", () => {
  const ciRun = readFileSync(join(ROOT, ".ci", "run"), "utf8");
  const listed = /^CI_PACKAGES=\(([^)]*)\)$/m.exec(ciRun)?.[1]?.trim().split(/\s+/) ?? [];
  expect(listed.sort()).toEqual(SYSTEM_PACKAGES.map((p) => p.name).sort());
});
