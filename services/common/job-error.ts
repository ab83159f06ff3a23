/**
 * Typed job errors. Every failure of a job attempt is a JobError made by one
 * of the `JobErrors` factories below. Its code names what happened; the code
 * fixes the error class, and the class decides the retry:
 *
 *  - transient       a plugin or infrastructure hiccup; retried with backoff
 *  - permanent       the plugin rejected the input or has a bug; not retried
 *  - env             the Python environment is missing or could not be built
 *  - timeout         one of the job's timeouts fired (the message names which)
 *  - cancelled       the job was cancelled by a user
 *  - worker_lost     the worker holding the lease vanished
 *  - protocol        the guest or worker broke the wire protocol
 *  - resource_limit  the guest exceeded an rlimit (memory, CPU, files)
 *
 * The code also says whose fault the failure is (`blameOf`). Only the
 * plugin's own failures count toward its version's circuit breaker: a broken
 * environment or bridge on one worker, a missing input file or a lost worker
 * must not pause a healthy plugin. Nothing here ever looks at message text.
 */
export const ERROR_CLASSES = [
  'transient',
  'permanent',
  'env',
  'timeout',
  'cancelled',
  'worker_lost',
  'protocol',
  'resource_limit',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Whose fault a failure is. Only `plugin` counts toward the circuit breaker. */
export type Blame = 'plugin' | 'environment' | 'worker' | 'input' | 'user';

interface CodeRule {
  /** The classes this code may carry (the first is its default). */
  classes: readonly ErrorClass[];
  blame: Blame;
}

/** Every code the system produces, with its classes and blame. */
const CODES = {
  /** An exception raised by the plugin; TransientError / PermanentError decide the class. */
  PLUGIN_ERROR: { classes: ['permanent', 'transient'], blame: 'plugin' },
  /** The plugin exceeded an rlimit (memory, CPU time, open files). */
  RESOURCE_LIMIT: { classes: ['resource_limit'], blame: 'plugin' },
  /** The guest exited (permanent) or was killed (transient) while it ran the plugin, without a verdict. */
  GUEST_CRASHED: { classes: ['permanent', 'transient'], blame: 'plugin' },
  /** The idle or start-to-close timeout fired while the plugin ran; also the schedule-to-start timeout of a queued job. */
  TIMEOUT: { classes: ['timeout'], blame: 'plugin' },
  /** The plugin's output is not a valid Arrow IPC stream, has a bad name, or cannot be stored. */
  INVALID_OUTPUT: { classes: ['protocol'], blame: 'plugin' },
  /** The guest never got to run the plugin: it exited, was killed or did not connect before it received the job. */
  GUEST_START_FAILED: { classes: ['transient'], blame: 'environment' },
  /** The guest (or the worker, on the Conclude stream) broke the protocol. */
  GUEST_PROTOCOL: { classes: ['protocol'], blame: 'worker' },
  /** Strict mode: no environment for the env hash on this worker; or its interpreter cannot be started. */
  ENV_MISSING: { classes: ['env'], blame: 'environment' },
  /** Installing the lockfile failed. */
  ENV_PROVISION_FAILED: { classes: ['env'], blame: 'environment' },
  /** Installing the lockfile took longer than the install timeout. */
  ENV_PROVISION_TIMEOUT: { classes: ['env'], blame: 'environment' },
  /** No connected worker could run the job's env before its schedule-to-start timeout. */
  ENV_UNAVAILABLE: { classes: ['env'], blame: 'environment' },
  /** The input file does not exist or cannot be read. */
  INPUT_MISSING: { classes: ['permanent'], blame: 'input' },
  /** The input resolves (through symlinks) to a file outside the worker's input roots. */
  INPUT_OUTSIDE_ROOTS: { classes: ['permanent'], blame: 'input' },
  /** Staging or committing outputs failed on the Sentinel's output volume (full, over quota, an I/O error). */
  SINK_FULL: { classes: ['transient'], blame: 'environment' },
  /** An output's columns differ from the plugin's declared contract (missing, extra, incompatible type, reserved name), or an undeclared output. */
  SCHEMA_MISMATCH: { classes: ['permanent'], blame: 'plugin' },
  /** More of an output's rows were quarantined than the plugin's QUARANTINE limits allow: the input is bad, not the plugin. */
  QUARANTINE_LIMIT: { classes: ['permanent'], blame: 'input' },
  /** A sink route in mode `error` already holds the output: nothing committed. */
  SINK_CONFLICT: { classes: ['permanent'], blame: 'user' },
  /** The Sentinel's commit writer cannot enforce the plugin's contract (parquet-wasm instead of pyarrow). */
  CONTRACT_UNSUPPORTED: { classes: ['permanent'], blame: 'environment' },
  /** The plugin's manifest asks for host variables the worker's operator does not allow (--guest-env-allow). */
  ENV_NOT_ALLOWED: { classes: ['permanent'], blame: 'plugin' },
  /**
   * The plugin version is unsigned and the worker requires signatures (no
   * --allow-unsigned). Blamed on the plugin, like a bad signature: every
   * worker with the same policy refuses it, so its breaker may pause it.
   */
  SIGNATURE_REQUIRED: { classes: ['permanent'], blame: 'plugin' },
  /**
   * The signature does not verify on the worker: a key it does not trust, a
   * malformed or wrong signature, or an artifact (source, lockfile, manifest)
   * changed after signing. The plugin never ran.
   */
  SIGNATURE_INVALID: { classes: ['permanent'], blame: 'plugin' },
  CANCELLED: { classes: ['cancelled'], blame: 'user' },
  WORKER_LOST: { classes: ['worker_lost'], blame: 'worker' },
  /** A fault of the worker or Sentinel itself. */
  INTERNAL: { classes: ['transient'], blame: 'worker' },
} as const satisfies Record<string, CodeRule>;

export type ErrorCode = keyof typeof CODES;

export interface JobError {
  errorClass: ErrorClass;
  /** An ErrorCode; a string because errors received over the wire may carry codes this version does not know. */
  code: ErrorCode | string;
  message: string;
  /** Python traceback or install log, when there is one. */
  traceback?: string;
  /** Whether another attempt may succeed; always `classIsRetryable(errorClass)`. */
  retryable: boolean;
}

export function isErrorClass(s: string): s is ErrorClass {
  return (ERROR_CLASSES as readonly string[]).includes(s);
}

export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(CODES, s);
}

/** The retry decision of a class. */
export function classIsRetryable(c: ErrorClass): boolean {
  return c === 'transient' || c === 'worker_lost' || c === 'timeout';
}

/**
 * Whose fault an error is, from its code. A code this version does not know
 * (from a newer worker) is blamed on the worker, so it never pauses a plugin.
 */
export function blameOf(e: Pick<JobError, 'code'>): Blame {
  return isErrorCode(e.code) ? CODES[e.code].blame : 'worker';
}

/** Whether a failed attempt with this error counts toward its plugin version's circuit breaker. */
export function countsTowardBreaker(e: Pick<JobError, 'code'>): boolean {
  return blameOf(e) === 'plugin';
}

/**
 * A JobError from its parts (e.g. received over the wire). `retryable` always
 * follows the class; a known code with a class it cannot carry gets the
 * code's default class.
 */
export function jobError(errorClass: ErrorClass, code: string, message: string, traceback?: string): JobError {
  let cls = errorClass;
  if (isErrorCode(code)) {
    const allowed: readonly ErrorClass[] = CODES[code].classes;
    if (!allowed.includes(cls)) cls = allowed[0];
  }
  return { errorClass: cls, code, message, ...(traceback ? { traceback } : {}), retryable: classIsRetryable(cls) };
}

/** The timeouts a job has; each names itself in the error message. */
export type TimeoutKind = 'idle' | 'start_to_close' | 'schedule_to_start';

/** The factories: one per thing that can go wrong. */
export const JobErrors = {
  /** An exception the plugin raised (TransientError → transient; anything else → permanent). */
  plugin: (errorClass: 'transient' | 'permanent', message: string, traceback?: string): JobError =>
    jobError(errorClass, 'PLUGIN_ERROR', message, traceback),
  resourceLimit: (message: string, traceback?: string): JobError => jobError('resource_limit', 'RESOURCE_LIMIT', message, traceback),
  /** The guest died while running the plugin: killed by a signal (transient) or exited with a code (permanent). */
  guestCrashed: (how: 'signal' | 'exit', message: string, traceback?: string): JobError =>
    jobError(how === 'signal' ? 'transient' : 'permanent', 'GUEST_CRASHED', message, traceback),
  /** The guest never ran the plugin: a broken environment or bridge on this worker. */
  guestStartFailed: (message: string, traceback?: string): JobError => jobError('transient', 'GUEST_START_FAILED', message, traceback),
  guestProtocol: (message: string): JobError => jobError('protocol', 'GUEST_PROTOCOL', message),
  invalidOutput: (message: string): JobError => jobError('protocol', 'INVALID_OUTPUT', message),
  timeout: (which: TimeoutKind, limitMs: number, detail = ''): JobError => {
    const what = {
      idle: `idle timeout: no frame from the guest for ${limitMs} ms`,
      start_to_close: `start-to-close timeout: the job ran longer than ${limitMs} ms`,
      schedule_to_start: `schedule-to-start timeout (${limitMs} ms)`,
    }[which];
    return jobError('timeout', 'TIMEOUT', detail ? `${what}: ${detail}` : what);
  },
  envMissing: (message: string): JobError => jobError('env', 'ENV_MISSING', message),
  envProvisionFailed: (message: string, traceback?: string): JobError => jobError('env', 'ENV_PROVISION_FAILED', message, traceback),
  envProvisionTimeout: (message: string, traceback?: string): JobError => jobError('env', 'ENV_PROVISION_TIMEOUT', message, traceback),
  envUnavailable: (message: string): JobError => jobError('env', 'ENV_UNAVAILABLE', message),
  inputMissing: (message: string): JobError => jobError('permanent', 'INPUT_MISSING', message),
  inputOutsideRoots: (message: string): JobError => jobError('permanent', 'INPUT_OUTSIDE_ROOTS', message),
  sinkFull: (message: string): JobError => jobError('transient', 'SINK_FULL', message),
  envNotAllowed: (message: string): JobError => jobError('permanent', 'ENV_NOT_ALLOWED', message),
  schemaMismatch: (message: string): JobError => jobError('permanent', 'SCHEMA_MISMATCH', message),
  quarantineLimit: (message: string): JobError => jobError('permanent', 'QUARANTINE_LIMIT', message),
  sinkConflict: (message: string): JobError => jobError('permanent', 'SINK_CONFLICT', message),
  contractUnsupported: (message: string): JobError => jobError('permanent', 'CONTRACT_UNSUPPORTED', message),
  signatureRequired: (message: string): JobError => jobError('permanent', 'SIGNATURE_REQUIRED', message),
  signatureInvalid: (message: string): JobError => jobError('permanent', 'SIGNATURE_INVALID', message),
  cancelled: (message: string): JobError => jobError('cancelled', 'CANCELLED', message),
  workerLost: (message: string): JobError => jobError('worker_lost', 'WORKER_LOST', message),
  internal: (message: string): JobError => jobError('transient', 'INTERNAL', message),
} as const;

/** An Error carrying a JobError, thrown inside the worker or the output store and caught at the job boundary. */
export class JobFailure extends Error {
  readonly jobError: JobError;
  constructor(jobError: JobError) {
    super(jobError.message);
    this.name = 'JobFailure';
    this.jobError = jobError;
  }
}
