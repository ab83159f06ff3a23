#!/usr/bin/env node
/** The casparian CLI. `casparian help` lists the commands; `casparian COMMAND --help` one command's flags. */
import { CommanderError } from 'commander';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ConfigError } from '../services/common/config';
import { buildProgram } from './cli/command-table';
import { exitCodeOf } from './cli/program';
import { UsageError } from './cli/usage';

async function main(argv: string[]): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(process.env, result);
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  await program.parseAsync(argv, { from: 'user' });
  return result.code;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: number; details?: string; message?: string };
    if (err instanceof CommanderError) {
      // commander has printed the help or the complaint already.
      process.exitCode = exitCodeOf(err);
    } else if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
    } else if (typeof e.code === 'number' && e.details !== undefined) {
      process.stderr.write(`error: ${grpcStatus[e.code] ?? e.code}: ${e.details}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`error: ${e.message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
