/**
 * `casparian completion bash|zsh`: a completion script made from the
 * commander program itself (its commands, subcommands and each one's flags),
 * so it cannot drift from what the CLI accepts. Both shells share the same
 * logic: walk the words typed so far to find the command (skipping flags and
 * the values of flags that take one), then offer its subcommands, or its
 * flags after a dash, or file names.
 */
import type { Command } from 'commander';
import { allCommands } from './program';

/** A command's words after `casparian`: '' for the program, 'job cancel'. */
function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** A shell function `name` printing a word list for a command path. */
function lookup(name: string, rows: [string, string[]][]): string {
  const cases = rows.filter(([, words]) => words.length).map(([p, words]) => `    '${p}') echo '${words.join(' ')}' ;;`);
  return `${name}() {\n  case "$1" in\n${cases.join('\n')}\n  esac\n}\n`;
}

function tables(program: Command): string {
  const commands = [program, ...allCommands(program)];
  const subs: [string, string[]][] = commands.map((c) => [pathOf(c), c.commands.map((s) => s.name())]);
  subs.push(['help', program.commands.map((s) => s.name())]);
  subs[0][1].push('help');
  const flags: [string, string[]][] = commands.map((c) => [pathOf(c), [...c.options.flatMap((o) => (o.long ? [o.long] : [])), '--help']]);
  const valued: [string, string[]][] = commands.map((c) => [pathOf(c), c.options.filter((o) => o.required || o.optional).flatMap((o) => (o.long ? [o.long] : []))]);
  return lookup('_casparian_subs', subs) + lookup('_casparian_flags', flags) + lookup('_casparian_valued', valued);
}

/** The loop both shells run over the words before the cursor; sets cmdpath, and skip when the cursor is on a flag's value. */
const WALK = `    w="\${words_[i]}"
    if [[ -n $skip ]]; then skip=""; continue; fi
    if [[ $w == --*=* ]]; then continue; fi
    if [[ $w == -* ]]; then
      [[ " $(_casparian_valued "$cmdpath") " == *" $w "* ]] && skip=1
      continue
    fi
    [[ " $(_casparian_subs "$cmdpath") " == *" $w "* ]] && cmdpath="\${cmdpath:+$cmdpath }$w"`;

function bash(program: Command): string {
  return `# casparian completion for bash; load it with: source <(casparian completion bash)
${tables(program)}
_casparian() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" skip="" w i
  local -a words_=("\${COMP_WORDS[@]}")
  for ((i = 1; i < COMP_CWORD; i++)); do
${WALK}
  done
  COMPREPLY=()
  [[ -n $skip ]] && return 0 # a flag's value: file names (-o default)
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_casparian_flags "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_casparian_subs "$cmdpath")" -- "$cur"))
  fi
}
complete -o default -F _casparian casparian
`;
}

function zsh(program: Command): string {
  return `#compdef casparian
# casparian completion for zsh; load it with: source <(casparian completion zsh)
# (after compinit), or save it as _casparian in a directory of $fpath.
${tables(program)}
_casparian() {
  local cur="\${words[CURRENT]}" cmdpath="" skip="" w i
  local -a words_=("\${words[@]}")
  for ((i = 2; i < CURRENT; i++)); do
${WALK}
  done
  if [[ -n $skip ]]; then _files; return; fi
  local -a choices
  if [[ $cur == -* ]]; then
    choices=(\${=$(_casparian_flags "$cmdpath")})
    compadd -a choices
  else
    choices=(\${=$(_casparian_subs "$cmdpath")})
    if (( \${#choices} )); then compadd -a choices; else _files; fi
  fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _casparian "$@"
else
  compdef _casparian casparian
fi
`;
}

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  return shell === 'bash' ? bash(program) : zsh(program);
}
