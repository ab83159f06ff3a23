/**
 * Validation of the JSON frames a guest sends. Each parser takes the decoded
 * JSON object and returns a typed message, or throws FrameError: the guest is
 * untrusted, so every field is checked before the worker acts on it.
 */
import { JobErrors, type JobError } from '../../common/job-error';
import { FrameError } from './frames';

export interface HelloMessage {
  token: string;
  pid: number;
  pythonVersion: string;
  pyarrowVersion: string | null;
}
export interface OutputSummary {
  name: string;
  rows: number;
  batches: number;
}
export interface DoneMessage {
  rows: number;
  outputs: OutputSummary[];
}
export interface ProgressMessage {
  rows?: number;
  fraction?: number;
  message?: string;
}

/** Longest output name accepted (the SDK enforces the same). */
export const MAX_OUTPUT_NAME = 128;
/** Error classes a guest may claim; the rest are decided by the worker. */
const GUEST_ERROR_CLASSES = new Set(['transient', 'permanent', 'resource_limit']);
const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);

type Obj = Record<string, unknown>;

function fail(what: string, msg: string): never {
  throw new FrameError(`${what}: ${msg}`);
}

function str(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(what, `"${key}" must be a string`);
  return v;
}

function optStr(o: Obj, key: string, what: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o, key, what);
}

function count(o: Obj, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(what, `"${key}" must be a non-negative integer`);
  }
  return v;
}

export function parseOutputName(o: Obj, what: string): string {
  const name = str(o, 'name', what);
  if (name.length === 0 || name.length > MAX_OUTPUT_NAME) {
    fail(what, `output name must have 1 to ${MAX_OUTPUT_NAME} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) fail(what, 'output name contains control characters');
  return name;
}

export function parseHello(o: Obj): HelloMessage {
  const what = 'HELLO';
  const pid = count(o, 'pid', what);
  const pyarrow = o.pyarrow_version;
  if (pyarrow !== null && pyarrow !== undefined && typeof pyarrow !== 'string') {
    fail(what, '"pyarrow_version" must be a string or null');
  }
  return {
    token: str(o, 'token', what),
    pid,
    pythonVersion: str(o, 'python_version', what),
    pyarrowVersion: (pyarrow as string | undefined) ?? null,
  };
}

export function parseOutputEnd(o: Obj): OutputSummary {
  const what = 'OUTPUT_END';
  return { name: parseOutputName(o, what), rows: count(o, 'rows', what), batches: count(o, 'batches', what) };
}

export function parseLog(o: Obj): { level: string; message: string } {
  const level = str(o, 'level', 'LOG');
  if (!LOG_LEVELS.has(level)) fail('LOG', `unknown level ${JSON.stringify(level)}`);
  return { level, message: str(o, 'message', 'LOG') };
}

export function parseProgress(o: Obj): ProgressMessage {
  const what = 'PROGRESS';
  const out: ProgressMessage = {};
  if (o.rows !== undefined && o.rows !== null) out.rows = count(o, 'rows', what);
  if (o.fraction !== undefined && o.fraction !== null) {
    const f = o.fraction;
    if (typeof f !== 'number' || !(f >= 0 && f <= 1)) fail(what, '"fraction" must be a number in [0, 1]');
    out.fraction = f;
  }
  const message = optStr(o, 'message', what);
  if (message !== undefined) out.message = message;
  return out;
}

export function parseMetrics(o: Obj): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [key, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail('METRICS', `metric ${JSON.stringify(key)} is not a finite number`);
    values[key] = v;
  }
  return values;
}

/**
 * The guest's ERROR frame as a JobError. Plugins cannot pick codes: the code is
 * RESOURCE_LIMIT for class resource_limit (the shim's MemoryError / EMFILE
 * mapping) and PLUGIN_ERROR otherwise.
 */
export function parseGuestError(o: Obj): JobError {
  const what = 'ERROR';
  const errorClass = str(o, 'error_class', what);
  if (!GUEST_ERROR_CLASSES.has(errorClass)) fail(what, `a guest cannot report error class ${JSON.stringify(errorClass)}`);
  const cls = errorClass as 'transient' | 'permanent' | 'resource_limit';
  const type = optStr(o, 'type', what) ?? 'Exception';
  const message = optStr(o, 'message', what) ?? '';
  const traceback = optStr(o, 'traceback', what);
  // The guest's "retryable" is checked for form only: whether to retry follows from the class.
  if (o.retryable !== undefined && typeof o.retryable !== 'boolean') fail(what, '"retryable" must be a boolean');
  const text = message ? `${type}: ${message}` : type;
  return cls === 'resource_limit' ? JobErrors.resourceLimit(text, traceback) : JobErrors.plugin(cls, text, traceback);
}

export function parseDone(o: Obj): DoneMessage {
  const what = 'DONE';
  const rows = count(o, 'rows', what);
  if (!Array.isArray(o.outputs)) fail(what, '"outputs" must be an array');
  const outputs = o.outputs.map((item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) fail(what, 'each output must be an object');
    const it = item as Obj;
    return { name: parseOutputName(it, what), rows: count(it, 'rows', what), batches: count(it, 'batches', what) };
  });
  return { rows, outputs };
}
