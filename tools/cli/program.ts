/**
 * The commander plumbing of the casparian CLI: how a command's parsed options
 * reach its module (a `Flags` object keyed by flag name, as the modules have
 * always taken them), how the root help lists every command, and how
 * commander's errors become usage errors (exit 2). The commands themselves
 * are declared in command-table.ts.
 */
import { Command, CommanderError, Help, Option } from 'commander';
import type { Flags } from '../../services/common/config';

/** What a command does with its operands and flags; resolves to its exit code (-1: a service, keep running). */
export type Action = (args: string[], flags: Flags) => Promise<number | void> | number | void;

/** The full name of a command, `casparian job cancel`. */
export function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command under `root`, depth first, parents before their subcommands. */
export function allCommands(root: Command): Command[] {
  return root.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/**
 * A command's options as the modules read them: `--data-dir X` is
 * `{ 'data-dir': 'X' }`, a switch is `true`, and a repeated flag's values
 * arrive as one string, one value per line. Absent flags are absent.
 */
export function flagsOf(cmd: Command): Flags {
  const opts = cmd.opts();
  const flags: Flags = {};
  for (const o of cmd.options) {
    const v: unknown = opts[o.attributeName()];
    if (v === undefined || !o.long) continue;
    flags[o.long.slice(2)] = Array.isArray(v) ? v.join('\n') : (v as string | boolean);
  }
  return flags;
}

/** Commands given an action by bind(). */
const acting = new WeakSet<Command>();

/** Runs `action` for the command, keeping its exit code in `result`. */
export function bind(cmd: Command, result: { code: number }, action: Action): Command {
  acting.add(cmd);
  return cmd.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    result.code = (await action(self.args, flagsOf(self))) ?? 0;
  });
}

/** A flag that may be given more than once; its values are kept in order. */
export function repeated(flags: string, description: string): Option {
  return new Option(flags, description).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
}

/** The commands that take `--flag`, by full name. */
export function commandsWithFlag(root: Command, flag: string): string[] {
  return allCommands(root)
    .filter((c) => c.options.some((o) => o.long === flag))
    .map(fullName);
}

/**
 * Commander's error text, told where a misplaced flag belongs (`jobs
 * --lockfile`: "--lockfile is a flag of casparian publish"), and a value given
 * to a switch (`--json=yes`) said as such.
 */
export function explainError(root: Command, text: string): string {
  const m = /unknown option '(--[^'=\s]+)(=[^']*)?'/.exec(text);
  if (!m) return text;
  const [, flag, value] = m;
  const owners = commandsWithFlag(root, flag);
  if (value !== undefined && owners.length > 0) return `error: option '${flag}' does not take an argument\n`;
  if (owners.length === 0) return text;
  const shown = owners.length > 4 ? `${owners.slice(0, 4).join(', ')} and ${owners.length - 4} more` : owners.join(', ');
  // Where it belongs says more than commander's guess at a similar flag of this command.
  return `error: unknown option '${flag}'\n(${flag} is a flag of ${shown})\n`;
}

/** Commander's way out, as an exit code: help asked for is 0, any other complaint a usage error, 2. */
export function exitCodeOf(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : 2;
}

/**
 * The root help lists every command that does something, subcommands
 * included (`casparian job cancel …`), under its group; a command's help
 * lists its subcommands the same way. Terms are written as typed.
 */
export function helpConfiguration(): Partial<Help> {
  return {
    visibleCommands(this: Help, cmd: Command): Command[] {
      const own = Help.prototype.visibleCommands.call(this, cmd);
      const help = own.filter((c) => !cmd.commands.includes(c));
      const listed = allCommands(cmd).filter((c) => !(c as unknown as { _hidden: boolean })._hidden && (c.commands.length === 0 || acting.has(c)));
      return [...listed, ...help];
    },
    subcommandTerm(this: Help, cmd: Command): string {
      const usage = cmd.usage();
      return `${cmd.parent ? fullName(cmd) : cmd.name()}${usage ? ` ${usage}` : ''}`;
    },
    sortSubcommands: false,
    showGlobalOptions: false,
  };
}

