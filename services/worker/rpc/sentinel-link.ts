/**
 * The worker's connection to the Sentinel: one gRPC channel that carries the
 * long-lived Dispatch stream and one Conclude call per attempt.
 */
import * as grpc from '@grpc/grpc-js';
import { channelOptions } from '../../common/grpc-server';
import type { Logger } from '../../common/logger';
import { encodeConcludeRequest } from '../../common/bytes-codec';
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
  address: string;
  credentials?: grpc.ChannelCredentials;
  /** The worker token, sent with every call (services/common/auth). */
  token?: string;
  handlers: DispatchHandlers;
  logger: Logger;
  reconnectMaxMs: number;
}

export class SentinelLink {
  readonly dispatch: DispatchClient;
  private readonly client: SentinelClient;

  constructor(opts: SentinelLinkOptions) {
    this.client = new SentinelClient(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), channelOptions(opts.token));
    this.dispatch = new DispatchClient(this.client, opts.handlers, opts.logger, opts.reconnectMaxMs);
  }

  /** The attempt's Conclude call, open once the Sentinel has acknowledged its header (the lease check). */
  openAttempt(ref: AttemptRef): Promise<AttemptChannel> {
    return ConcludeChannel.open(this.client, ref);
  }

  /** Closes the gRPC channel; close the Dispatch stream first. */
  close(): void {
    this.client.close();
  }
}
