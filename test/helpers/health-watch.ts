/**
 * A grpc.health.v1 Health.Watch from the test side: every status the server
 * streams for one service, in order, and how the stream ended.
 */
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

export class HealthWatch {
  /** Statuses received so far ('SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'…). */
  readonly statuses: string[] = [];
  /** Set when the stream ended: 'end', or the error's status name. */
  ended: string | undefined;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientReadableStream<{ status: string }>;

  constructor(
    readonly address: string,
    readonly service: string,
  ) {
    this.client = new HealthClient(address, grpc.credentials.createInsecure());
    const watch = (this.client as unknown as Record<string, (req: object) => grpc.ClientReadableStream<{ status: string }>>).Watch;
    this.call = watch.call(this.client, { service });
    this.call.on('data', (m: { status: string }) => this.statuses.push(m.status));
    this.call.on('end', () => (this.ended ??= 'end'));
    this.call.on('error', (e: grpc.ServiceError) => (this.ended ??= grpc.status[e.code] ?? String(e.code)));
  }

  /** What this watch saw, for assertion messages. */
  toString(): string {
    return `Watch(${JSON.stringify(this.service)}) on ${this.address}: ${JSON.stringify(this.statuses)}${this.ended ? `, ended ${this.ended}` : ''}`;
  }

  /** Cancel the call (so a draining server need not wait for it) and close the channel. */
  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
