/**
 * The one mapping between JobError and its proto message, shared by the
 * Sentinel and the Worker. Error classes map to ErrorClass enum values by
 * name (`transient` ↔ ERROR_CLASS_TRANSIENT), never by position.
 */
import { ErrorClass as PbErrorClass, type JobError as PbJobError } from '../gen/casparian/v1/types';
import { isErrorClass, jobError, type ErrorClass, type JobError } from './job-error';

const PREFIX = 'ERROR_CLASS_';

export function errorClassToPb(c: ErrorClass): PbErrorClass {
  const v = PbErrorClass[`${PREFIX}${c.toUpperCase()}` as keyof typeof PbErrorClass];
  if (v === undefined) throw new Error(`error class ${c} has no ErrorClass enum value`);
  return v;
}

/** UNSPECIFIED and values this version does not know are treated as permanent (as the proto says). */
export function errorClassFromPb(c: PbErrorClass): ErrorClass {
  const name = PbErrorClass[c] as string | undefined;
  const cls = name?.startsWith(PREFIX) ? name.slice(PREFIX.length).toLowerCase() : '';
  return isErrorClass(cls) ? cls : 'permanent';
}

export function jobErrorToPb(e: JobError): PbJobError {
  return { errorClass: errorClassToPb(e.errorClass), code: e.code, message: e.message, traceback: e.traceback ?? '', retryable: e.retryable };
}

/** A received error: its retryable flag is derived again from the class. */
export function jobErrorFromPb(e: PbJobError | undefined): JobError | undefined {
  if (!e) return undefined;
  return jobError(errorClassFromPb(e.errorClass), e.code, e.message, e.traceback || undefined);
}
