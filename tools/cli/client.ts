/** A thin promise wrapper over the generated Sentinel client, for the CLI, demo and tests. */
import * as grpc from '@grpc/grpc-js';
import { decodeFetchOutputResponse } from '../../services/common/bytes-codec';
import { channelOptions } from '../../services/common/grpc-server';
import { SentinelClient as GeneratedSentinelClient, SentinelService } from '../../services/gen/casparian/v1/sentinel';
import type {
  CancelJobRequest,
  CancelJobResponse,
  FetchOutputResponse,
  GetJobRequest,
  GetJobResponse,
  ListJobsRequest,
  ListJobsResponse,
  ListPluginsRequest,
  ListPluginsResponse,
  ListWorkersRequest,
  ListWorkersResponse,
  PausePluginRequest,
  PausePluginResponse,
  PublishPluginRequest,
  PublishPluginResponse,
  ResumePluginRequest,
  ResumePluginResponse,
  RetryJobRequest,
  RetryJobResponse,
  SubmitJobRequest,
  SubmitJobResponse,
  WatchJobResponse,
} from '../../services/gen/casparian/v1/sentinel';
import type { OutputInfo } from '../../services/gen/casparian/v1/types';

/** The generated client, with FetchOutput's data decoded as views of the received messages (bytes-codec.ts). */
const RawClient = grpc.makeGenericClientConstructor(
  { ...SentinelService, fetchOutput: { ...SentinelService.fetchOutput, responseDeserialize: decodeFetchOutputResponse } },
  'casparian.v1.Sentinel',
) as unknown as typeof GeneratedSentinelClient;

export class SentinelClient {
  readonly raw: InstanceType<typeof GeneratedSentinelClient>;
  constructor(
    readonly address: string,
    readonly timeoutMs = 30_000,
  ) {
    this.raw = new RawClient(address, grpc.credentials.createInsecure(), channelOptions());
  }

  /** Every unary call gets this deadline, so a stalled Sentinel cannot hang a client. */
  private call<Req, Res>(method: string, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      type Fn = (r: Req, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => void;
      const fn = (this.raw as unknown as Record<string, Fn>)[method];
      fn.call(this.raw, req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  /**
   * Wait until the channel is connected (before a stream, which has no
   * deadline of its own). Fails as UNAVAILABLE after the client timeout.
   */
  ready(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.raw.waitForReady(Date.now() + this.timeoutMs, (err) =>
        err
          ? reject(Object.assign(new Error(err.message), { code: grpc.status.UNAVAILABLE, details: `cannot reach the Sentinel at ${this.address} within ${this.timeoutMs / 1000} s` }))
          : resolve(),
      ),
    );
  }

  publishPlugin = (r: PublishPluginRequest) => this.call<PublishPluginRequest, PublishPluginResponse>('publishPlugin', r);
  listPlugins = (r: ListPluginsRequest) => this.call<ListPluginsRequest, ListPluginsResponse>('listPlugins', r);
  submitJob = (r: SubmitJobRequest) => this.call<SubmitJobRequest, SubmitJobResponse>('submitJob', r);
  getJob = (r: GetJobRequest) => this.call<GetJobRequest, GetJobResponse>('getJob', r);
  listJobs = (r: ListJobsRequest) => this.call<ListJobsRequest, ListJobsResponse>('listJobs', r);
  cancelJob = (r: CancelJobRequest) => this.call<CancelJobRequest, CancelJobResponse>('cancelJob', r);
  retryJob = (r: RetryJobRequest) => this.call<RetryJobRequest, RetryJobResponse>('retryJob', r);
  pausePlugin = (r: PausePluginRequest) => this.call<PausePluginRequest, PausePluginResponse>('pausePlugin', r);
  resumePlugin = (r: ResumePluginRequest) => this.call<ResumePluginRequest, ResumePluginResponse>('resumePlugin', r);
  listWorkers = (r: ListWorkersRequest) => this.call<ListWorkersRequest, ListWorkersResponse>('listWorkers', r);

  /** Every event of WatchJob until the stream ends. */
  async *watchJob(jobId: string): AsyncGenerator<WatchJobResponse> {
    await this.ready();
    const call = this.raw.watchJob({ jobId });
    try {
      for await (const ev of call as AsyncIterable<WatchJobResponse>) yield ev;
    } finally {
      call.cancel();
    }
  }

  /**
   * FetchOutput as it arrives: the output's description first (with the first
   * bytes), then Arrow IPC stream bytes. Pulled: the stream is read only as
   * fast as the caller consumes it, so memory stays bounded.
   */
  async *fetchOutputStream(jobId: string, outputName = ''): AsyncGenerator<FetchOutputResponse> {
    await this.ready();
    const call = this.raw.fetchOutput({ jobId, outputName });
    try {
      for await (const m of call as AsyncIterable<FetchOutputResponse>) yield m;
    } finally {
      call.cancel();
    }
  }

  /** FetchOutput collected into one buffer of Arrow IPC stream bytes (small outputs; fetchOutputStream for large ones). */
  async fetchOutput(jobId: string, outputName = ''): Promise<{ info: OutputInfo | undefined; ipc: Buffer }> {
    const parts: Buffer[] = [];
    let info: OutputInfo | undefined;
    for await (const m of this.fetchOutputStream(jobId, outputName)) {
      if (m.output) info = m.output;
      parts.push(Buffer.from(m.data));
    }
    return { info, ipc: Buffer.concat(parts) };
  }

  close(): void {
    this.raw.close();
  }
}
