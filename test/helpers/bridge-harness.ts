/**
 * Running the bridge host against a real Python with pyarrow (the run's
 * shared env), for the bridge integration tests: a sink that keeps every
 * guest event, a run spec with test defaults, and cleanup checks.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../services/common/logger';
import { runBridge } from '../../services/worker/bridge/bridge-host';
import type { LaunchGuest } from '../../services/worker/bridge/guest-handle';
import type { BridgeOutcome, BridgeRunSpec, BridgeSink, GuestEvent } from '../../services/worker/bridge/types';
import { groupRunning } from '../../services/worker/bridge/process-group';
import { pidAlive } from './proc-inspect';
import { REPO_ROOT, pyarrowPython } from './python-env';

export const SHIM = path.join(REPO_ROOT, 'bridge_py', 'bridge_shim.py');

export class CollectingSink implements BridgeSink {
  readonly events: GuestEvent[] = [];
  constructor(private readonly hook?: (e: GuestEvent) => void | Promise<void>) {}
  onEvent(e: GuestEvent): void | Promise<void> {
    this.events.push(e);
    return this.hook?.(e);
  }
  /** The concatenated ARROW bytes of one output: a complete IPC stream. */
  bytes(name: string): Buffer {
    return Buffer.concat(this.events.flatMap((e) => (e.kind === 'arrow' && e.name === name ? [e.bytes] : [])));
  }
  logs(): string[] {
    return this.events.flatMap((e) => (e.kind === 'log' ? [e.message] : []));
  }
}

/** The guest was started, and neither it nor anything of its process group runs any more. */
export function assertCleanedUp(outcome: BridgeOutcome): void {
  assert.ok(outcome.pid !== null, 'the guest was started');
  assert.ok(!pidAlive(outcome.pid!), `guest pid ${outcome.pid} is gone`);
  assert.equal(groupRunning(outcome.pid!), false, 'nothing of the guest process group is running');
}

export interface BridgeHarness {
  /** The shared env's python (set in `before`). */
  python: string;
  /** A temp dir of the describe block, removed in `after`. */
  work: string;
  /** The CSV input written by the harness. */
  csvPath: string;
  spec(source: string, over?: Partial<BridgeRunSpec>): BridgeRunSpec;
  /** Runs `source` on the harness's input; `launch` starts the guest (default: spawn). */
  run(source: string, sink?: CollectingSink, over?: Partial<BridgeRunSpec>, signal?: AbortSignal, launch?: LaunchGuest): Promise<{ outcome: BridgeOutcome; sink: CollectingSink }>;
}

/**
 * Registers before/after hooks in the calling describe block: provisions the
 * pyarrow env, creates a temp dir with `input.csv` holding `csv`.
 */
export function useBridgeHarness(prefix: string, csv: string): BridgeHarness {
  const h: BridgeHarness = {
    python: '',
    work: '',
    csvPath: '',
    spec: (source, over = {}) => ({
      python: h.python,
      shimPath: SHIM,
      jobId: 'job-1',
      attempt: 1,
      pluginName: 'test_plugin',
      pluginVersion: '1.0.0',
      source,
      inputPath: h.csvPath,
      timeouts: { connectMs: 20_000, idleMs: 20_000, totalMs: 60_000, killGraceMs: 1_000 },
      ...over,
    }),
    run: async (source, sink = new CollectingSink(), over = {}, signal, launch) => {
      const outcome = await runBridge(h.spec(source, over), sink, { logger: silentLogger, signal, hostEnv: process.env, launch });
      return { outcome, sink };
    },
  };
  before(async () => {
    h.python = await pyarrowPython();
    h.work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    h.csvPath = path.join(h.work, 'input.csv');
    fs.writeFileSync(h.csvPath, csv);
  });
  after(() => fs.rmSync(h.work, { recursive: true, force: true }));
  return h;
}
