/**
 * The one way a service, stream or run changes its lifecycle state (the
 * Temporal worker habit): a table of allowed transitions, a guarded move that
 * logs each transition, and a typed IllegalStateError that names the current
 * state when a move or an action does not fit it. Owners expose the state
 * read-only (`get state()`), never as a public field.
 */
import type { Logger } from './logger';

export class IllegalStateError extends Error {
  constructor(
    readonly machine: string,
    readonly state: string,
    readonly action: string,
  ) {
    super(`${machine} cannot ${action} in state ${state}`);
    this.name = 'IllegalStateError';
  }
}

/** For each state, the states it may move to. */
export type Transitions<S extends string> = { readonly [K in S]: readonly S[] };

export class StateMachine<S extends string> {
  private current: S;
  private readonly listeners: ((to: S, from: S) => void)[] = [];

  constructor(
    private readonly name: string,
    initial: S,
    private readonly transitions: Transitions<S>,
    private readonly logger?: Logger,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  /** Move to `next`, or throw IllegalStateError when the table does not allow it. */
  to(next: S): void {
    if (!this.transitions[this.current].includes(next)) throw new IllegalStateError(this.name, this.current, `move to ${next}`);
    this.logger?.debug(`${this.name} state`, { from: this.current, to: next });
    const from = this.current;
    this.current = next;
    for (const l of this.listeners) l(next, from);
  }

  /** Call `listener` after every move. */
  onMove(listener: (to: S, from: S) => void): void {
    this.listeners.push(listener);
  }

  /** Throw IllegalStateError naming `action` unless the current state is one of `allowed`. */
  require(action: string, ...allowed: S[]): void {
    if (!allowed.includes(this.current)) throw new IllegalStateError(this.name, this.current, action);
  }
}
