/** The worker's Python environment manager (see env-manager.ts). */
export { EnvManager } from './env-manager';
export { envHashOf, isEnvHash } from './env-hash';
export { EnvLinkRefused } from './env-link';
export { inspectLockfile, isUvLock } from './lockfile-info';
export type { LockfileInfo, LockfileKind } from './lockfile-info';
export type { DoctorCheck } from './env-doctor';
export type { EnvChange, EnvInfo, EnvLease, EnvManagerConfig, EnvManagerDeps, EnvMode, EnvStatus } from './types';
