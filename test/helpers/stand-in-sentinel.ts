/**
 * A stand-in for a Sentinel replica, for client tests: a grpc-js server on
 * loopback with a few Sentinel methods that records the calls it receives.
 * A `dying` one answers every call with UNAVAILABLE after receiving it, as a
 * replica going away does.
 */
import * as grpc from '@grpc/grpc-js';
import { CancelJobResponse, JobEventKind, ListJobsResponse, SentinelService, SubmitJobResponse, WatchJobResponse, type WatchJobRequest } from '../../services/gen/casparian/v1/sentinel';
import { Job, JobState } from '../../services/gen/casparian/v1/types';

export type WatchCall = grpc.ServerWritableStream<WatchJobRequest, WatchJobResponse>;

export interface StandInOptions {
  dying?: boolean;
  host?: string;
  /** Default: any free port. */
  port?: number;
  /** WatchJob's handler; default: one event, then UNAVAILABLE if dying, else the end of the stream. */
  watchJob?: (call: WatchCall) => void;
}

/** One WatchJob event for job j1 in `state`. */
export const watchEvent = (state: JobState): WatchJobResponse => WatchJobResponse.fromPartial({ kind: JobEventKind.JOB_EVENT_KIND_STATE, job: { id: 'j1', state } });

export class StandInSentinel {
  readonly calls: string[] = [];
  private readonly server = new grpc.Server();
  address = '';
  port = 0;

  private constructor(o: StandInOptions) {
    const unary =
      (name: string, ok: object) =>
      (_call: unknown, cb: grpc.sendUnaryData<object>): void => {
        this.calls.push(name);
        if (o.dying) cb({ code: grpc.status.UNAVAILABLE, details: 'replica going away' });
        else cb(null, ok);
      };
    const job = Job.fromPartial({ id: 'j1', state: JobState.JOB_STATE_QUEUED });
    this.server.addService(SentinelService, {
      listJobs: unary('listJobs', ListJobsResponse.fromPartial({})),
      submitJob: unary('submitJob', SubmitJobResponse.fromPartial({ job, created: true })),
      cancelJob: unary('cancelJob', CancelJobResponse.fromPartial({ job })),
      watchJob: (call: WatchCall) => {
        this.calls.push('watchJob');
        if (o.watchJob) return o.watchJob(call);
        call.write(watchEvent(o.dying ? JobState.JOB_STATE_RUNNING : JobState.JOB_STATE_SUCCEEDED));
        if (o.dying) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'replica going away' });
        else call.end();
      },
    });
  }

  static async start(o: StandInOptions = {}): Promise<StandInSentinel> {
    const s = new StandInSentinel(o);
    const host = o.host ?? '127.0.0.1';
    s.port = await new Promise<number>((resolve, reject) =>
      s.server.bindAsync(`${host}:${o.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    s.address = `${host}:${s.port}`;
    return s;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
