/**
 * Per-plugin concurrency caps within one scheduler round.
 *
 * A CapBudget starts from the caps (plugin name → max_concurrency, newest
 * version's) and the attempts already leased per capped name (one query per
 * round, never one per job). The round asks `admit(name)` before it plans a
 * job and `take(name)` when it does; names at their cap are `full()`, and
 * listRunnable leaves them out so they cannot crowd out other plugins.
 *
 * Invariant: for every capped name, leased + taken ≤ cap. Leased attempts
 * count until they settle (a verdict that frees the worker slot early still
 * counts), so the cap errs on the side of fewer.
 */
export class CapBudget {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly caps: ReadonlyMap<string, number>,
    leased: ReadonlyMap<string, number>,
  ) {
    for (const [name] of caps) this.used.set(name, leased.get(name) ?? 0);
  }

  /** True when a job of `name` may be planned now (uncapped names always may). */
  admit(name: string): boolean {
    const cap = this.caps.get(name);
    return cap === undefined || (this.used.get(name) ?? 0) < cap;
  }

  /** A job of `name` was planned. */
  take(name: string): void {
    if (this.caps.has(name)) this.used.set(name, (this.used.get(name) ?? 0) + 1);
  }

  /** Capped names with no room left. */
  full(): string[] {
    return [...this.caps].filter(([name, cap]) => (this.used.get(name) ?? 0) >= cap).map(([name]) => name);
  }

  /** What GetJob says about a queued job of a plugin at its cap. */
  reason(name: string): string {
    const cap = this.caps.get(name) ?? 0;
    return `waiting: plugin ${name} is at its concurrency cap (max_concurrency ${cap}; ${this.used.get(name) ?? 0} running)`;
  }
}
