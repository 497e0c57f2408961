/** Names that become DNS labels: workloads, ports, volumes, checks. PURE. */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Whether `name` is a DNS label (RFC 1123, lower case): letters, digits and '-', a letter or digit first and last, at most 63 characters. */
export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && LABEL.test(name);
}
