/**
 * `tessera completion bash|zsh`: a completion script generated from the registered commands
 * (their paths and flags), so it cannot drift from the CLI.
 */
import { Command, Option, UsageError } from "clipanion";
import { TesseraCommand } from "./base.js";

/** Command paths and their flags, as clipanion reports them. */
function commandWords(cli: { definitions(): Array<{ path: string; options: Array<{ definition: string }> }> }): Map<string, string[]> {
  const words = new Map<string, string[]>();
  for (const d of cli.definitions()) {
    const path = d.path.replace(/^tessera\s*/, "");
    if (path === "") continue;
    const flags = d.options.flatMap((o) => o.definition.split(/[\s,]+/).filter((w) => w.startsWith("-")));
    words.set(path, flags);
  }
  return words;
}

/** A bash completion function: completes the next path word, then that command's flags. */
export function bashCompletion(words: Map<string, string[]>): string {
  const cases = [...words.entries()].map(([path, flags]) => `    "${path}") flags="${flags.join(" ")}" ;;`).join("\n");
  const paths = [...words.keys()].map((p) => `"${p}"`).join(" ");
  return `# tessera completion for bash: source <(tessera completion bash)
_tessera() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" typed="\${COMP_WORDS[*]:1:COMP_CWORD-1}" next="" flags="" p
  for p in ${paths}; do
    if [[ "$p" == "$typed "* ]]; then
      local rest="\${p#"$typed "}"; next="$next \${rest%% *}"
    elif [[ "$typed" == "$p" || "$typed" == "$p "* ]]; then
      case "$p" in
${cases}
      esac
    fi
  done
  [[ -z "$typed" ]] && for p in ${paths}; do next="$next \${p%% *}"; done
  COMPREPLY=($(compgen -W "$next $flags" -- "$cur"))
}
complete -o default -F _tessera tessera
`;
}

export class CompletionCommand extends TesseraCommand {
  static paths = [["completion"]];
  static usage = Command.Usage({
    category: "Tools",
    description: "print a shell completion script (bash, or zsh through bashcompinit)",
    examples: [
      ["bash", "source <(tessera completion bash)"],
      ["zsh", "autoload -U +X bashcompinit && bashcompinit && source <(tessera completion zsh)"],
    ],
  });
  shell = Option.String({ required: true });

  async run() {
    if (this.shell !== "bash" && this.shell !== "zsh") throw new UsageError(`shell: expected bash or zsh, got "${this.shell}"`);
    this.out(bashCompletion(commandWords(this.cli)));
  }
}
