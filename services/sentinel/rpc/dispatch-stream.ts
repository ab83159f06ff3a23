/**
 * Sentinel.Dispatch: the long-lived stream of one worker.
 *
 *   worker:   Hello → (Heartbeat | Ready | EnvUpdate)*
 *   sentinel: Welcome → (JobDispatch | JobCancel)*
 *
 * Hello registers a WorkerSession with the scheduler; the stream ending
 * removes it. The worker's attempts keep their leases until they expire, so a
 * worker that reconnects in time loses nothing.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { alreadyExists, invalidArgument } from '../../common/rpc-error';
import { failCall, messagesOf } from '../../common/rpc-adapters';
import { VERSION } from '../../common/version';
import type { AttemptRef as PbAttemptRef, DispatchRequest, DispatchResponse } from '../../gen/casparian/v1/dispatch';
import type { EnvInfo } from '../../gen/casparian/v1/types';
import type { AttemptRef } from '../queue';
import type { WorkerEnv, WorkerSession } from '../scheduler/worker-session';
import type { RpcContext } from './context';
import { timeoutsToPb } from './mappers';
import { requireName } from '../../common/validate';

export type DispatchDeps = Pick<RpcContext, 'cfg' | 'clock' | 'lifecycle' | 'scheduler' | 'logger'>;

type Call = ServerDuplexStream<DispatchRequest, DispatchResponse>;

const refFromPb = (r: PbAttemptRef): AttemptRef => ({ jobId: r.jobId, attempt: r.attempt, leaseToken: r.leaseToken });

function envsFromPb(envs: EnvInfo[]): Map<string, WorkerEnv> {
  return new Map(envs.map((e) => [e.envHash, { ...e }]));
}

export function dispatchHandler(d: DispatchDeps): (call: Call) => void {
  return (call) => {
    let session: WorkerSession | undefined;
    const run = async (): Promise<void> => {
      for await (const req of messagesOf<DispatchRequest>(call)) {
        const m = req.msg;
        if (!m) throw invalidArgument('empty DispatchRequest');
        if (!session) {
          if (m.$case !== 'hello') throw invalidArgument('the first Dispatch message must be Hello');
          const active = m.hello.active.map(refFromPb);
          requireName('hello.worker_id', m.hello.workerId);
          refuseLiveDuplicate(d, m.hello.workerId);
          await d.lifecycle.attemptsLost({ workerId: m.hello.workerId, stillRunning: active });
          session = register(d, call, m.hello);
          if (active.length) await heartbeat(d, session, active);
          continue;
        }
        switch (m.$case) {
          case 'hello':
            throw invalidArgument('Hello sent twice on one Dispatch stream');
          case 'heartbeat':
            await heartbeat(d, session, m.heartbeat.active.map(refFromPb));
            break;
          case 'ready':
            if (m.ready.draining && !session.draining) d.logger.info('worker draining', { workerId: session.workerId });
            session.draining = m.ready.draining;
            d.scheduler.kick();
            break;
          case 'envUpdate':
            session.envs = envsFromPb(m.envUpdate.envs);
            d.scheduler.kick();
            break;
        }
      }
    };
    run()
      .then(() => {
        if (!call.cancelled) call.end();
      })
      .catch((err) => failCall(call, err, d.logger, 'Dispatch'))
      .finally(() => {
        if (session) {
          d.logger.info('worker disconnected', { workerId: session.workerId, inFlight: session.inFlight.size });
          d.scheduler.removeWorker(session);
        }
      });
  };
}

/**
 * A Hello for a worker id whose session still heartbeats is refused: it would
 * take that worker's place and fail its attempts. A worker that really lost
 * its connection stops heartbeating, so after two heartbeat intervals its
 * reconnect (which retries) is accepted and replaces the old session.
 */
function refuseLiveDuplicate(d: DispatchDeps, workerId: string): void {
  const live = d.scheduler.session(workerId);
  if (!live) return;
  const quietMs = d.clock.now() - live.lastHeartbeatAt;
  if (quietMs < 2 * d.cfg.heartbeatIntervalMs) {
    throw alreadyExists(`worker id "${workerId}" is connected on another stream (last heartbeat ${quietMs} ms ago); give each worker its own --worker-id`);
  }
}

function register(d: DispatchDeps, call: Call, hello: NonNullable<DispatchRequest['msg'] & { $case: 'hello' }>['hello']): WorkerSession {
  if (!hello.slots || hello.slots > 1024) throw invalidArgument('hello.slots must be between 1 and 1024');
  const now = d.clock.now();
  const session: WorkerSession = {
    workerId: hello.workerId,
    hostname: hello.hostname,
    version: hello.version,
    slots: hello.slots,
    envMode: hello.envMode === 'strict' ? 'strict' : 'auto',
    mayProvision: hello.mayProvision,
    envs: envsFromPb(hello.envs),
    connectedAt: now,
    lastHeartbeatAt: now,
    draining: false,
    suspect: false,
    inFlight: new Set(hello.active.map((a) => a.jobId)),
    sendDispatch(o) {
      if (call.cancelled || call.writableEnded) return false;
      call.write({
        msg: {
          $case: 'dispatch',
          dispatch: {
            jobId: o.ref.jobId,
            attempt: o.ref.attempt,
            leaseToken: o.ref.leaseToken,
            pluginName: o.pluginName,
            pluginVersion: o.pluginVersion,
            source: o.source,
            artifactHash: o.artifactHash,
            envHash: o.envHash,
            lockfile: o.lockfile,
            inputPath: o.inputPath,
            timeouts: timeoutsToPb(o.timeouts),
            envAllow: o.envAllow,
            limits: { ...o.limits },
            isolation: o.isolation,
            traceparent: o.traceparent ?? '',
            manifestJson: o.manifestJson,
            signature: o.signed?.signature ?? Buffer.alloc(0),
            signingKeyId: o.signed?.keyId ?? '',
          },
        },
      });
      return true;
    },
    sendCancel(ref, reason) {
      if (call.cancelled || call.writableEnded) return false;
      call.write({ msg: { $case: 'cancel', cancel: { attempt: ref, reason } } });
      return true;
    },
    close() {
      if (!call.cancelled && !call.writableEnded) call.end();
    },
  };
  call.write({ msg: { $case: 'welcome', welcome: { heartbeatIntervalMs: d.cfg.heartbeatIntervalMs, leaseMs: d.cfg.leaseMs, version: VERSION } } });
  d.logger.info('worker connected', { workerId: session.workerId, slots: session.slots, envMode: session.envMode, envs: session.envs.size });
  d.scheduler.addWorker(session);
  return session;
}

async function heartbeat(d: DispatchDeps, session: WorkerSession, refs: AttemptRef[]): Promise<void> {
  session.lastHeartbeatAt = d.clock.now();
  if (session.suspect) {
    session.suspect = false;
    d.logger.info('suspect worker heartbeats again', { workerId: session.workerId });
    d.scheduler.kick();
  }
  const held = await d.lifecycle.leasesRenewed({ refs });
  const heldKeys = new Set(held.map((r) => `${r.jobId}/${r.attempt}/${r.leaseToken}`));
  for (const r of refs) {
    if (!heldKeys.has(`${r.jobId}/${r.attempt}/${r.leaseToken}`)) {
      // The worker runs an attempt whose lease is gone (reclaimed, cancelled or finished): stop it.
      session.sendCancel(r, 'lease lost');
    }
  }
}
