/**
 * The worker's connection to the Sentinel: the long-lived Dispatch stream and
 * one Conclude call per attempt, over one gRPC channel per Sentinel address.
 *
 * With several addresses (replicas sharing one store), the Dispatch stream
 * moves to the next address when it breaks (dispatch-client.ts), and each
 * attempt's Conclude goes to the address of the stream at the time the
 * attempt opens it: a replica the worker has just reached. A Conclude is not
 * retried: when its replica dies the call breaks, the attempt ends without a
 * verdict, and the lease decides what happens to the job — the next replica
 * finds it lost when the worker says Hello without it, or reclaims it when the
 * lease expires, and dispatches it again, to a worker whose Conclude then
 * goes to a live replica. A replica that refuses the header (a lease that is
 * not current) refuses it as any other would.
 *
 * Channels are made on first use and kept until close(): a Conclude still
 * running on a replica the stream has left keeps its channel.
 */
import * as grpc from '@grpc/grpc-js';
import { channelOptions } from '../../common/grpc-server';
import type { Logger } from '../../common/logger';
import { encodeConcludeRequest } from '../../common/bytes-codec';
import { targetChannelOptions } from '../../common/sentinel-targets';
import { SentinelClient as GeneratedSentinelClient, SentinelService } from '../../gen/casparian/v1/sentinel';
import type { AttemptChannel, AttemptRef } from '../attempt/types';
import { ConcludeChannel } from './conclude-channel';
import { DispatchClient, type DispatchHandlers } from './dispatch-client';

/** The generated client, with Conclude's requests serialized by bytes-codec.ts (output chunks copied once). */
const SentinelClient = grpc.makeGenericClientConstructor(
  { ...SentinelService, conclude: { ...SentinelService.conclude, requestSerialize: encodeConcludeRequest } },
  'casparian.v1.Sentinel',
) as unknown as typeof GeneratedSentinelClient;
type SentinelClient = InstanceType<typeof GeneratedSentinelClient>;

export interface SentinelLinkOptions {
  /** The Sentinel's addresses (--sentinel), dialled in turn; at least one. */
  addresses: readonly string[];
  credentials?: grpc.ChannelCredentials;
  /** The worker token, sent with every call (services/common/auth). */
  token?: string;
  handlers: DispatchHandlers;
  logger: Logger;
  reconnectMaxMs: number;
  /** How long a new Dispatch stream may wait for its Welcome (default: DispatchClient's). */
  welcomeTimeoutMs?: number;
  /** Makes the client of one address; default a grpc-js channel. Tests pass fakes. */
  connect?: (address: string) => SentinelClient;
}

export class SentinelLink {
  readonly dispatch: DispatchClient;
  private readonly clients = new Map<string, SentinelClient>();
  private readonly connect: (address: string) => SentinelClient;

  constructor(opts: SentinelLinkOptions) {
    const credentials = opts.credentials ?? grpc.credentials.createInsecure();
    this.connect =
      opts.connect ??
      ((address) =>
        new SentinelClient(address, credentials, {
          ...channelOptions(opts.token),
          ...targetChannelOptions(address),
          // A channel's own reconnect backoff would otherwise grow to 2 minutes while its
          // replica is down: capped at the link's, a replica that is back is found on the next turn.
          'grpc.max_reconnect_backoff_ms': opts.reconnectMaxMs,
        }));
    this.dispatch = new DispatchClient({ addresses: opts.addresses, client: (address) => this.client(address) }, opts.handlers, opts.logger, {
      reconnectMaxMs: opts.reconnectMaxMs,
      welcomeTimeoutMs: opts.welcomeTimeoutMs,
    });
  }

  private client(address: string): SentinelClient {
    let c = this.clients.get(address);
    if (!c) {
      c = this.connect(address);
      this.clients.set(address, c);
    }
    return c;
  }

  /** The attempt's Conclude call, to the Dispatch stream's address, open once the Sentinel has acknowledged its header (the lease check). */
  openAttempt(ref: AttemptRef): Promise<AttemptChannel> {
    return ConcludeChannel.open(this.client(this.dispatch.address), ref);
  }

  /** Closes every gRPC channel; close the Dispatch stream first. */
  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}
