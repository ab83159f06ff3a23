/** A thin promise wrapper over the generated Sentinel client, for the CLI, demo and tests. */
import * as grpc from '@grpc/grpc-js';
import { decodeFetchOutputResponse } from '../../services/common/bytes-codec';
import { channelOptions } from '../../services/common/grpc-server';
import {
  CancelJobRequest,
  GetJobRequest,
  ListJobsRequest,
  ListPluginsRequest,
  ListWorkersRequest,
  ListDatasetsRequest,
  PausePluginRequest,
  QueryRequest,
  PublishPluginRequest,
  PurgeJobsRequest,
  ResumePluginRequest,
  RetryJobRequest,
  SentinelClient as GeneratedSentinelClient,
  SentinelService,
  SubmitJobRequest,
  SubmitJobsRequest,
  SubmitScanRequest,
  WatchJobsRequest,
  type CancelJobResponse,
  type FetchOutputResponse,
  type GetJobResponse,
  type ListJobsResponse,
  type ListPluginsResponse,
  type ListWorkersResponse,
  type ListDatasetsResponse,
  type QuerySummary,
  type QueryResponse,
  type PausePluginResponse,
  type PublishPluginResponse,
  type PurgeJobsResponse,
  type ResumePluginResponse,
  type RetryJobResponse,
  type SubmitJobResponse,
  type SubmitJobsResponse,
  type SubmitScanResponse,
  type WatchJobResponse,
  type WatchJobsResponse,
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
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    /** A client token, sent with every call. */
    token?: string,
  ) {
    this.raw = new RawClient(address, credentials, channelOptions(token));
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

  /** A unary method taking a partial request: unset fields get their proto defaults. */
  private unary<Req, Res>(method: string, message: { fromPartial(o: never): Req }): (r?: Partial<Req>) => Promise<Res> {
    const complete = message.fromPartial as (o: Partial<Req>) => Req;
    return (r = {}) => this.call<Req, Res>(method, complete(r));
  }

  publishPlugin = this.unary<PublishPluginRequest, PublishPluginResponse>('publishPlugin', PublishPluginRequest);
  listPlugins = this.unary<ListPluginsRequest, ListPluginsResponse>('listPlugins', ListPluginsRequest);
  purgeJobs = this.unary<PurgeJobsRequest, PurgeJobsResponse>('purgeJobs', PurgeJobsRequest);
  submitJob = this.unary<SubmitJobRequest, SubmitJobResponse>('submitJob', SubmitJobRequest);
  submitJobs = this.unary<SubmitJobsRequest, SubmitJobsResponse>('submitJobs', SubmitJobsRequest);
  getJob = this.unary<GetJobRequest, GetJobResponse>('getJob', GetJobRequest);
  listJobs = this.unary<ListJobsRequest, ListJobsResponse>('listJobs', ListJobsRequest);
  cancelJob = this.unary<CancelJobRequest, CancelJobResponse>('cancelJob', CancelJobRequest);
  retryJob = this.unary<RetryJobRequest, RetryJobResponse>('retryJob', RetryJobRequest);
  pausePlugin = this.unary<PausePluginRequest, PausePluginResponse>('pausePlugin', PausePluginRequest);
  resumePlugin = this.unary<ResumePluginRequest, ResumePluginResponse>('resumePlugin', ResumePluginRequest);
  listWorkers = this.unary<ListWorkersRequest, ListWorkersResponse>('listWorkers', ListWorkersRequest);
  listDatasets = this.unary<ListDatasetsRequest, ListDatasetsResponse>('listDatasets', ListDatasetsRequest);

  /** Query's result collected: Arrow IPC stream bytes and the summary. */
  async query(req: Partial<QueryRequest>): Promise<{ ipc: Buffer; summary: QuerySummary | undefined }> {
    await this.ready();
    const call = this.raw.query(QueryRequest.fromPartial(req));
    const parts: Buffer[] = [];
    let summary: QuerySummary | undefined;
    try {
      for await (const m of call as AsyncIterable<QueryResponse>) {
        parts.push(Buffer.from(m.data));
        if (m.summary) summary = m.summary;
      }
    } finally {
      call.cancel();
    }
    return { ipc: Buffer.concat(parts), summary };
  }

  /** Every event of WatchJobs until the stream ends (a batch: once all its jobs are final). */
  async *watchJobs(r: Partial<WatchJobsRequest>): AsyncGenerator<WatchJobsResponse> {
    await this.ready();
    const call = this.raw.watchJobs(WatchJobsRequest.fromPartial(r));
    try {
      for await (const ev of call as AsyncIterable<WatchJobsResponse>) yield ev;
    } finally {
      call.cancel();
    }
  }

  /**
   * SubmitScan's progress messages, the last one the summary (done). An
   * aborted `signal` cancels the call (the Sentinel stops walking); the
   * iteration then fails with CANCELLED.
   */
  async *submitScan(r: Partial<SubmitScanRequest>, signal?: AbortSignal): AsyncGenerator<SubmitScanResponse> {
    await this.ready();
    const call = this.raw.submitScan(SubmitScanRequest.fromPartial(r));
    const cancel = (): void => call.cancel();
    signal?.addEventListener('abort', cancel);
    try {
      for await (const m of call as AsyncIterable<SubmitScanResponse>) yield m;
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

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
