/**
 * Typed job errors. Every failure of a job attempt is described by a JobError
 * whose `errorClass` (never its text) decides whether the job is retried.
 *
 * Classes:
 *  - transient       a plugin or infrastructure hiccup; retried with backoff
 *  - permanent       the plugin rejected the input or has a bug; not retried
 *  - env             the Python environment is missing or could not be built
 *  - timeout         one of the job's timeouts fired (the message names which)
 *  - cancelled       the job was cancelled by a user
 *  - worker_lost     the worker holding the lease vanished
 *  - protocol        the guest or worker broke the wire protocol
 *  - resource_limit  the guest exceeded an rlimit (memory, CPU, files)
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

/** Well-known error codes. Plugins may not invent codes; the shim maps their exceptions. */
export type ErrorCode =
  | 'PLUGIN_ERROR' // an exception raised by the plugin (class decided by TransientError/PermanentError)
  | 'ENV_MISSING' // strict mode: no environment for the env hash on this worker
  | 'ENV_PROVISION_FAILED' // installing the lockfile failed
  | 'ENV_PROVISION_TIMEOUT' // installing the lockfile took longer than the install timeout
  | 'ENV_UNAVAILABLE' // no connected worker can run the job's env before schedule-to-start timeout
  | 'GUEST_CRASHED' // the Python process exited without a verdict
  | 'GUEST_PROTOCOL' // the guest sent frames that break the bridge protocol
  | 'INVALID_OUTPUT' // output bytes are not a valid Arrow IPC stream
  | 'TIMEOUT' // a timeout fired; message names which one
  | 'CANCELLED'
  | 'WORKER_LOST'
  | 'RESOURCE_LIMIT'
  | 'INPUT_MISSING' // the input file does not exist or cannot be read
  | 'INTERNAL';

export interface JobError {
  errorClass: ErrorClass;
  code: ErrorCode | string;
  message: string;
  /** Python traceback or install log, when there is one. */
  traceback?: string;
  /** Whether another attempt may succeed. Derived from the class unless a plugin says otherwise. */
  retryable: boolean;
}

export function isErrorClass(s: string): s is ErrorClass {
  return (ERROR_CLASSES as readonly string[]).includes(s);
}

/** Default retry decision per class. */
export function classIsRetryable(c: ErrorClass): boolean {
  return c === 'transient' || c === 'worker_lost' || c === 'timeout';
}

/** An Error carrying a JobError, thrown inside the worker and caught at the job boundary. */
export class JobFailure extends Error {
  readonly jobError: JobError;
  constructor(jobError: JobError) {
    super(jobError.message);
    this.name = 'JobFailure';
    this.jobError = jobError;
  }
  static of(errorClass: ErrorClass, code: ErrorCode, message: string, traceback?: string): JobFailure {
    return new JobFailure({ errorClass, code, message, traceback, retryable: classIsRetryable(errorClass) });
  }
}
