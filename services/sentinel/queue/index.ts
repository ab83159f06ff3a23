/** The queue: one SQL operation per file; callers never build SQL themselves. */
export * from './types';
export * from './backoff';
export * from './enqueue';
export * from './enqueue-batch';
export * from './idempotency';
export * from './list-runnable';
export * from './claim';
export * from './start-attempt';
export * from './extend-leases';
export * from './complete';
export * from './fail';
export * from './cancel';
export * from './reclaim-expired';
export * from './read-jobs';
export * from './job-logs';
export * from './fail-queued';
export * from './retry';
