/**
 * A thin promise wrapper over the generated Sentinel client, for the CLI,
 * demo and tests. Given several Sentinel addresses (replicas), it moves
 * between them as failover.ts says: which calls go where, and which are sent
 * again after an address failed.
 */
import * as grpc from '@grpc/grpc-js';
import { AddressRing } from '../../services/common/address-ring';
import { decodeFetchOutputResponse } from '../../services/common/bytes-codec';
import { channelOptions } from '../../services/common/grpc-server';
import { targetChannelOptions } from '../../services/common/sentinel-targets';
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
import { firstConnected, onFirstReachable, resumable, type Endpoints, type Reach, type ServerStream } from './failover';

/** The generated client, with FetchOutput's data decoded as views of the received messages (bytes-codec.ts). */
const RawClient = grpc.makeGenericClientConstructor(
  { ...SentinelService, fetchOutput: { ...SentinelService.fetchOutput, responseDeserialize: decodeFetchOutputResponse } },
  'casparian.v1.Sentinel',
) as unknown as typeof GeneratedSentinelClient;
type Raw = InstanceType<typeof GeneratedSentinelClient>;

/** Whether a call may be sent again to another address after it may have reached a Sentinel (failover.ts, rule 3). */
type Repeatable<Req> = boolean | ((req: Req) => boolean);

const withKey = (r: { idempotencyKey: string }): boolean => r.idempotencyKey !== '';

export class SentinelClient {
  /** The Sentinel's addresses, in the order they are tried (services/common/sentinel-targets.ts). */
  readonly addresses: readonly string[];
  private readonly ring: AddressRing;
  private readonly raws = new Map<string, Raw>();
  private readonly endpoints: Endpoints;

  constructor(
    address: string | readonly string[],
    readonly timeoutMs = 30_000,
    private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    /** A client token, sent with every call. */
    private readonly token?: string,
  ) {
    this.addresses = typeof address === 'string' ? [address] : [...address];
    this.ring = new AddressRing(this.addresses);
    this.endpoints = { ring: this.ring, reach: (a, deadline) => this.reach(a, deadline), now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
  }

  /** The address calls go to first: the last that answered (at the start, the first given). */
  get address(): string {
    return this.ring.current;
  }

  /** The generated client of the current address, for calls this class does not wrap. */
  get raw(): Raw {
    return this.rawOf(this.ring.current);
  }

  private rawOf(address: string): Raw {
    let raw = this.raws.get(address);
    if (!raw) {
      raw = new RawClient(address, this.credentials, { ...channelOptions(this.token), ...targetChannelOptions(address) });
      this.raws.set(address, raw);
    }
    return raw;
  }

  /**
   * Resolves once `address`'s channel is connected, or has failed to connect,
   * or `deadline` has passed. A failed channel is asked why with a health
   * Check, which fails at once without a connection (nothing is sent), or
   * answers if the channel has connected meanwhile.
   */
  private reach(address: string, deadline: number): Promise<Reach> {
    const raw = this.rawOf(address);
    const channel = raw.getChannel();
    const seconds = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    return new Promise((resolve) => {
      const look = (): void => {
        const state = channel.getConnectivityState(true);
        if (state === grpc.connectivityState.READY) return resolve({ ok: true });
        if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) return void this.whyDown(raw).then(resolve);
        channel.watchConnectivityState(state, deadline, (err) => (err ? resolve({ ok: false, why: `no connection within ${seconds} s` }) : look()));
      };
      look();
    });
  }

  private whyDown(raw: Raw): Promise<Reach> {
    return new Promise((resolve) => {
      raw.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        () => Buffer.alloc(0), // HealthCheckRequest{service: ""}
        (b: Buffer) => b,
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + 2_000 },
        (err) => {
          const down = err && (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED);
          resolve(down ? { ok: false, why: err.details || err.message } : { ok: true });
        },
      );
    });
  }

  /** One unary call on `address`, with the call's deadline. */
  private callOn<Req, Res>(address: string, method: string, req: Req, deadline: number): Promise<Res> {
    const raw = this.rawOf(address);
    return new Promise((resolve, reject) => {
      type Fn = (r: Req, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => void;
      const fn = (raw as unknown as Record<string, Fn>)[method];
      fn.call(raw, req, new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  /**
   * Wait until a channel is connected, going round the addresses (before a
   * stream, which has no deadline of its own); that address becomes current.
   * Fails as UNAVAILABLE, naming the addresses, after the client timeout.
   */
  async ready(): Promise<void> {
    await firstConnected(this.endpoints, this.timeoutMs);
  }

  /**
   * A unary method taking a partial request: unset fields get their proto
   * defaults. Every call gets the client timeout as its deadline, so a
   * stalled Sentinel cannot hang a client.
   */
  private unary<Req, Res>(method: string, message: { fromPartial(o: never): Req }, repeatable: Repeatable<Req>): (r?: Partial<Req>) => Promise<Res> {
    const complete = message.fromPartial as (o: Partial<Req>) => Req;
    return (r = {}) => {
      const req = complete(r);
      const again = typeof repeatable === 'function' ? repeatable(req) : repeatable;
      return onFirstReachable(this.endpoints, { timeoutMs: this.timeoutMs, repeatable: again }, (address, deadline) => this.callOn<Req, Res>(address, method, req, deadline));
    };
  }

  // Publishing identical content again answers with the stored version; a different one is refused (ALREADY_EXISTS).
  publishPlugin = this.unary<PublishPluginRequest, PublishPluginResponse>('publishPlugin', PublishPluginRequest, true);
  listPlugins = this.unary<ListPluginsRequest, ListPluginsResponse>('listPlugins', ListPluginsRequest, true);
  // A second purge would report what the first left, not what was purged.
  purgeJobs = this.unary<PurgeJobsRequest, PurgeJobsResponse>('purgeJobs', PurgeJobsRequest, (r) => r.dryRun);
  // Without an idempotency key, a submit sent twice makes two jobs.
  submitJob = this.unary<SubmitJobRequest, SubmitJobResponse>('submitJob', SubmitJobRequest, withKey);
  submitJobs = this.unary<SubmitJobsRequest, SubmitJobsResponse>('submitJobs', SubmitJobsRequest, withKey);
  getJob = this.unary<GetJobRequest, GetJobResponse>('getJob', GetJobRequest, true);
  listJobs = this.unary<ListJobsRequest, ListJobsResponse>('listJobs', ListJobsRequest, true);
  // A second cancel of a job the first one cancelled is refused (FAILED_PRECONDITION), a second retry replays it again.
  cancelJob = this.unary<CancelJobRequest, CancelJobResponse>('cancelJob', CancelJobRequest, false);
  retryJob = this.unary<RetryJobRequest, RetryJobResponse>('retryJob', RetryJobRequest, false);
  pausePlugin = this.unary<PausePluginRequest, PausePluginResponse>('pausePlugin', PausePluginRequest, true);
  resumePlugin = this.unary<ResumePluginRequest, ResumePluginResponse>('resumePlugin', ResumePluginRequest, true);
  listWorkers = this.unary<ListWorkersRequest, ListWorkersResponse>('listWorkers', ListWorkersRequest, true);
  listDatasets = this.unary<ListDatasetsRequest, ListDatasetsResponse>('listDatasets', ListDatasetsRequest, true);

  /** The raw client of the first address to connect (see ready()), for a stream. */
  private async connected(): Promise<Raw> {
    return this.rawOf(await firstConnected(this.endpoints, this.timeoutMs));
  }

  /** Query's result collected: Arrow IPC stream bytes and the summary. */
  async query(req: Partial<QueryRequest>): Promise<{ ipc: Buffer; summary: QuerySummary | undefined }> {
    const call = (await this.connected()).query(QueryRequest.fromPartial(req));
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

  /**
   * Every event of WatchJobs until the stream ends (a batch: once all its
   * jobs are final). Opened again on another address if it breaks with
   * UNAVAILABLE: a batch's watch starts over with its current counts.
   */
  watchJobs(r: Partial<WatchJobsRequest>): AsyncGenerator<WatchJobsResponse> {
    const req = WatchJobsRequest.fromPartial(r);
    return resumable(this.endpoints, this.timeoutMs, (address) => this.rawOf(address).watchJobs(req) as ServerStream<WatchJobsResponse>);
  }

  /**
   * SubmitScan's progress messages, the last one the summary (done). An
   * aborted `signal` cancels the call (the Sentinel stops walking); the
   * iteration then fails with CANCELLED.
   */
  async *submitScan(r: Partial<SubmitScanRequest>, signal?: AbortSignal): AsyncGenerator<SubmitScanResponse> {
    const call = (await this.connected()).submitScan(SubmitScanRequest.fromPartial(r));
    const cancel = (): void => call.cancel();
    signal?.addEventListener('abort', cancel);
    try {
      for await (const m of call as AsyncIterable<SubmitScanResponse>) yield m;
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

  /**
   * Every event of WatchJob until the stream ends. Opened again on another
   * address if it breaks with UNAVAILABLE, starting over with the job's
   * current state.
   */
  watchJob(jobId: string): AsyncGenerator<WatchJobResponse> {
    return resumable(this.endpoints, this.timeoutMs, (address) => this.rawOf(address).watchJob({ jobId }) as ServerStream<WatchJobResponse>);
  }

  /**
   * FetchOutput as it arrives: the output's description first (with the first
   * bytes), then Arrow IPC stream bytes. Pulled: the stream is read only as
   * fast as the caller consumes it, so memory stays bounded.
   */
  async *fetchOutputStream(jobId: string, outputName = ''): AsyncGenerator<FetchOutputResponse> {
    const call = (await this.connected()).fetchOutput({ jobId, outputName });
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
    for (const raw of this.raws.values()) raw.close();
  }
}
