/**
 * Isolation levels: how a worker runs the guest of a job attempt (see the
 * README, "Isolation levels", for the trade-off).
 *
 *  - `spawn`  a fresh `{env}/bin/python bridge_shim.py` per attempt: nothing
 *             is shared, every attempt pays for the interpreter and pyarrow;
 *  - `fork`   a per-env fork server that has imported pyarrow forks one fresh
 *             child per attempt: still one process per attempt (the default);
 *  - `reuse`  one guest process runs many attempts of a plugin version in a
 *             row: module state survives between them (throughput over
 *             isolation).
 *
 * A worker has a default (`--isolation`); a plugin's manifest may name
 * another. The empty string is "not set" (the worker's default).
 */
export const ISOLATION_LEVELS = ['spawn', 'fork', 'reuse'] as const;
export type Isolation = (typeof ISOLATION_LEVELS)[number];
/** A manifest's or dispatch's choice: a level, or '' for the worker's default. */
export type IsolationChoice = Isolation | '';

export const DEFAULT_ISOLATION: Isolation = 'fork';

export function isIsolation(s: string): s is Isolation {
  return (ISOLATION_LEVELS as readonly string[]).includes(s);
}

/** The level an attempt runs at: the plugin's choice when set, else the worker's. */
export function effectiveIsolation(choice: IsolationChoice, workerDefault: Isolation): Isolation {
  return choice === '' ? workerDefault : choice;
}
