/**
 * `tessera ctl --control ADDR get workloads`: clipanion only reads options after the full
 * command path, so a --control given right after `ctl` is moved to the end.
 */
export function hoistCtlOptions(args: string[]): string[] {
  if (args[0] !== "ctl") return args;
  const rest = args.slice(1);
  const moved: string[] = [];
  while (rest[0]?.startsWith("--control")) {
    const flag = rest.shift()!;
    moved.push(flag);
    if (flag === "--control" && rest.length > 0) moved.push(rest.shift()!);
  }
  return ["ctl", ...rest, ...moved];
}
