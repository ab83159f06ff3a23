/**
 * The worker's Dispatch stream to the Sentinel, with reconnects. Its state
 * changes only through DISPATCH_TRANSITIONS:
 *
 *   disconnected ──connect()──► connecting ──Welcome──► connected
 *        ▲                          │                       │
 *        └──── the stream failed or ended; retried after a backoff
 *
 *   close() from any state ──► closed (final; also while connecting, and
 *   while a reconnect is pending)
 *
 * On (re)connect it sends Hello with the worker's inventory and the attempts
 * it is still running, then heartbeats at the interval the Sentinel asks for.
 * Messages are mapped to and from the worker's own types here.
 *
 * Several Sentinel addresses (replicas) are dialled in turn: when a stream
 * fails to start or breaks, the next address is dialled after the backoff
 * (reconnectDelayMs), so an address that failed is tried again only after
 * every other one has had its turn, and never sooner than the backoff. The
 * backoff grows with consecutive failures, whichever addresses they were on,
 * and starts over when a Sentinel welcomes the worker. A stream that gets no
 * Welcome within `welcomeTimeoutMs` counts as failed: an address that drops
 * packets (no refusal, no answer) would otherwise hold the worker until the
 * operating system gives up connecting, minutes later.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { Logger } from '../../common/logger';
import { StateMachine, type Transitions } from '../../common/state-machine';
import type { DispatchRequest, DispatchResponse } from '../../gen/casparian/v1/dispatch';
import { AddressRing } from '../../common/address-ring';
import type { SentinelClient } from '../../gen/casparian/v1/sentinel';
import type { AttemptRef, AttemptSpec } from '../attempt/types';
import type { EnvInfo } from '../envs/types';
import { attemptSpecFromDispatch, envToPb } from './mappers';

export type DispatchClientState = 'disconnected' | 'connecting' | 'connected' | 'closed';

export const DISPATCH_TRANSITIONS: Transitions<DispatchClientState> = {
  disconnected: ['connecting', 'closed'],
  connecting: ['connected', 'disconnected', 'closed'],
  connected: ['disconnected', 'closed'],
  closed: [],
};

/** What the worker says about itself in Hello. */
export interface WorkerHello {
  workerId: string;
  slots: number;
  version: string;
  envs: EnvInfo[];
  mayProvision: boolean;
  envMode: string;
  hostname: string;
}

/** The Sentinel addresses a worker dials, and the client of each. */
export interface DispatchTargets {
  /** In the order they are tried; at least one. */
  readonly addresses: readonly string[];
  /** The client of one of the addresses (the same one on every call). */
  client(address: string): SentinelClient;
}

/** How long to wait before dialling again after `failures` consecutive failures (≥ 1): 400 ms, doubling, at most `maxMs`. */
export function reconnectDelayMs(failures: number, maxMs: number): number {
  return Math.min(maxMs, 200 * 2 ** Math.min(failures, 10));
}

/** Runs `fn` after `ms` (the reconnect); returns a cancel. A seam for tests. */
export type Schedule = (fn: () => void, ms: number) => () => void;

const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

export interface DispatchTiming {
  /** The longest wait between two dials (reconnectDelayMs). */
  reconnectMaxMs: number;
  /** A stream not welcomed this long after it was opened is given up (default 20 s). */
  welcomeTimeoutMs?: number;
  /** Default: setTimeout. */
  schedule?: Schedule;
}

export const DEFAULT_WELCOME_TIMEOUT_MS = 20_000;

export interface DispatchHandlers {
  hello(): WorkerHello;
  active(): AttemptRef[];
  onDispatch(ref: AttemptRef, spec: AttemptSpec): void;
  onCancel(ref: AttemptRef, reason: string): void;
}

export class DispatchClient {
  private readonly lifecycle: StateMachine<DispatchClientState>;
  private call: ClientDuplexStream<DispatchRequest, DispatchResponse> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelWelcomeWait: (() => void) | undefined;
  private failures = 0;
  private readonly ring: AddressRing;
  private readonly schedule: Schedule;

  constructor(
    private readonly targets: DispatchTargets,
    private readonly h: DispatchHandlers,
    private readonly logger: Logger,
    private readonly timing: DispatchTiming,
  ) {
    this.lifecycle = new StateMachine<DispatchClientState>('DispatchClient', 'disconnected', DISPATCH_TRANSITIONS, logger);
    this.ring = new AddressRing(targets.addresses);
    this.schedule = timing.schedule ?? realSchedule;
  }

  get state(): DispatchClientState {
    return this.lifecycle.state;
  }

  /**
   * The Sentinel address of the stream: the one connected or being dialled,
   * or, while a reconnect is pending, the one to be dialled next.
   */
  get address(): string {
    return this.ring.current;
  }

  /** Call `listener` after every state change (connected, disconnected…). */
  onStateChange(listener: (state: DispatchClientState) => void): void {
    this.lifecycle.onMove(listener);
  }

  /** Dial the Sentinel; a no-op unless disconnected. */
  connect(): void {
    if (!this.lifecycle.is('disconnected')) return;
    this.lifecycle.to('connecting');
    const call = this.targets.client(this.ring.current).dispatch();
    this.call = call;
    call.on('data', (res: DispatchResponse) => this.onMessage(call, res));
    call.on('error', (err: Error) => this.onDown(call, err));
    call.on('end', () => this.onDown(call, new Error('the Sentinel ended the Dispatch stream')));
    const waitMs = this.timing.welcomeTimeoutMs ?? DEFAULT_WELCOME_TIMEOUT_MS;
    this.cancelWelcomeWait = this.schedule(() => {
      this.onDown(call, new Error(`no Welcome within ${waitMs} ms`));
      call.cancel();
    }, waitMs);
    const hello = this.h.hello();
    call.write({ msg: { $case: 'hello', hello: { ...hello, envs: hello.envs.map(envToPb), active: this.h.active() } } });
  }

  /** Free slots, and whether the worker drains (takes no new work). Dropped unless connected. */
  ready(freeSlots: number, draining: boolean): void {
    this.send({ msg: { $case: 'ready', ready: { freeSlots, draining } } });
  }

  /** The full env inventory after a change. Dropped unless connected. */
  envUpdate(envs: EnvInfo[]): void {
    this.send({ msg: { $case: 'envUpdate', envUpdate: { envs: envs.map(envToPb) } } });
  }

  /** Idempotent. */
  close(): void {
    if (this.lifecycle.is('closed')) return;
    this.lifecycle.to('closed');
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.cancelRetry?.();
    this.cancelWelcomeWait?.();
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.end();
      call.cancel();
    }
  }

  private send(msg: DispatchRequest): void {
    if (this.lifecycle.is('connected') && this.call) this.call.write(msg);
  }

  private onMessage(call: ClientDuplexStream<DispatchRequest, DispatchResponse>, res: DispatchResponse): void {
    const m = res.msg;
    if (!m) return;
    switch (m.$case) {
      case 'welcome': {
        if (call !== this.call) return; // a stream already given up (closed, or replaced)
        this.cancelWelcomeWait?.();
        if (this.lifecycle.is('connecting')) this.lifecycle.to('connected');
        this.failures = 0;
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.send({ msg: { $case: 'heartbeat', heartbeat: { active: this.h.active() } } }), m.welcome.heartbeatIntervalMs || 5_000);
        this.heartbeat.unref();
        this.logger.info('connected to sentinel', { sentinel: this.ring.current, sentinelVersion: m.welcome.version, leaseMs: m.welcome.leaseMs });
        return;
      }
      case 'dispatch':
        this.h.onDispatch({ jobId: m.dispatch.jobId, attempt: m.dispatch.attempt, leaseToken: m.dispatch.leaseToken }, attemptSpecFromDispatch(m.dispatch));
        return;
      case 'cancel':
        if (m.cancel.attempt) this.h.onCancel(m.cancel.attempt, m.cancel.reason);
        return;
    }
  }

  private onDown(call: ClientDuplexStream<DispatchRequest, DispatchResponse>, err: Error): void {
    if (call !== this.call) return;
    this.call = undefined;
    this.cancelWelcomeWait?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.lifecycle.is('closed')) return;
    this.lifecycle.to('disconnected');
    this.failures++;
    const delay = reconnectDelayMs(this.failures, this.timing.reconnectMaxMs);
    const from = this.ring.current;
    const next = this.ring.passOver(from);
    this.logger.warn('dispatch stream down; reconnecting', { sentinel: from, next, error: err.message, inMs: delay });
    this.cancelRetry = this.schedule(() => this.connect(), delay);
  }
}
