/**
 * Structured logger with scopes. Every line carries the fields of its scope
 * (service, worker id, job id, attempt). JSON lines when CASPARIAN_LOG_FORMAT=json
 * (or stdout is not a TTY and format is "auto"), readable text otherwise.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level: LogLevel;
  format: 'json' | 'text';
  /** Where lines go; stderr by default so command output on stdout stays clean. */
  write?: (line: string) => void;
}

export type LogFields = Record<string, unknown>;

export class Logger {
  constructor(
    private readonly opts: LoggerOptions,
    private readonly fields: LogFields = {},
  ) {}

  scope(fields: LogFields): Logger {
    return new Logger(this.opts, { ...this.fields, ...fields });
  }

  debug(msg: string, extra?: LogFields): void {
    this.log('debug', msg, extra);
  }
  info(msg: string, extra?: LogFields): void {
    this.log('info', msg, extra);
  }
  warn(msg: string, extra?: LogFields): void {
    this.log('warn', msg, extra);
  }
  error(msg: string, extra?: LogFields): void {
    this.log('error', msg, extra);
  }

  private log(level: LogLevel, msg: string, extra?: LogFields): void {
    if (ORDER[level] < ORDER[this.opts.level]) return;
    const all = { ...this.fields, ...extra };
    let line: string;
    if (this.opts.format === 'json') {
      line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...all });
    } else {
      const kv = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      line = `${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? '  ' + kv : ''}`;
    }
    (this.opts.write ?? ((l: string) => process.stderr.write(l + '\n')))(line);
  }
}

/** A logger that drops everything; for tests. */
export const silentLogger = new Logger({ level: 'error', format: 'text', write: () => {} });
