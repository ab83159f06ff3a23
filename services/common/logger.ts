/**
 * Structured logger with scopes, on pino. Every line carries the fields of
 * its scope (service, worker id, job id, attempt, trace id). JSON lines
 * (`{"level":"info","ts":"<ISO time>",…fields,"msg":"…"}`) when
 * CASPARIAN_LOG_FORMAT=json (or stderr is not a TTY and the format is
 * "auto"), readable text otherwise. Secrets are redacted before a line is
 * written (log-redaction.ts).
 */
import { pino, type Logger as PinoLogger } from 'pino';
import { CENSOR, REDACT_PATHS, redactStrings } from './log-redaction';
import { textLine } from './log-text';
import { redactUrlCredentials } from './redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  level: LogLevel;
  format: 'json' | 'text';
  /** Where lines go (one call per line, no newline); stderr by default so command output on stdout stays clean. */
  write?: (line: string) => void;
}

export type LogFields = Record<string, unknown>;

/** The pino destination: `opts.write` or stderr, in the chosen format. */
function destination(opts: LoggerOptions): { write(chunk: string): void } {
  const out = opts.write ?? ((line: string) => void process.stderr.write(line + '\n'));
  const format = opts.format === 'text' ? textLine : (line: string) => line;
  return { write: (chunk) => out(format(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk)) };
}

function rootLogger(opts: LoggerOptions): PinoLogger {
  return pino(
    {
      level: opts.level,
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      redact: { paths: [...REDACT_PATHS], censor: CENSOR },
      // Errors under any key are already plain {type, message, stack} (redactStrings); no second pass for `err`.
      serializers: { err: (e: unknown) => e },
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => redactStrings(fields) as LogFields,
      },
    },
    destination(opts),
  );
}

export class Logger {
  private pino: PinoLogger;

  constructor(opts: LoggerOptions, fields: LogFields = {}) {
    this.pino = rootLogger(opts).child(redactStrings(fields) as LogFields);
  }

  /**
   * A logger whose lines also carry `fields` (a pino child logger; pino's
   * `formatters.log` does not see a child's bindings, so their strings are
   * redacted here).
   */
  scope(fields: LogFields): Logger {
    const scoped = Object.create(Logger.prototype) as Logger;
    scoped.pino = this.pino.child(redactStrings(fields) as LogFields);
    return scoped;
  }

  debug(msg: string, extra?: LogFields): void {
    if (this.pino.isLevelEnabled('debug')) this.pino.debug(extra ?? {}, redactUrlCredentials(msg));
  }
  info(msg: string, extra?: LogFields): void {
    if (this.pino.isLevelEnabled('info')) this.pino.info(extra ?? {}, redactUrlCredentials(msg));
  }
  warn(msg: string, extra?: LogFields): void {
    if (this.pino.isLevelEnabled('warn')) this.pino.warn(extra ?? {}, redactUrlCredentials(msg));
  }
  error(msg: string, extra?: LogFields): void {
    if (this.pino.isLevelEnabled('error')) this.pino.error(extra ?? {}, redactUrlCredentials(msg));
  }
}

/** A logger that drops everything; for tests. */
export const silentLogger = new Logger({ level: 'error', format: 'text', write: () => {} });
