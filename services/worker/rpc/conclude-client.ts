/**
 * The worker's side of one Sentinel.Conclude call. open() sends the header
 * and waits for the Sentinel's ack (the lease check); send() respects
 * backpressure; finish() sends the verdict and waits for its ack. If the
 * Sentinel aborts, `broken` rejects and every later send() fails.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { ConcludeRequest, ConcludeResponse, VerdictAck, HeaderAck } from '../../gen/casparian/v1/dispatch';
import type { SentinelClient } from '../../gen/casparian/v1/sentinel';

export class ConcludeClient {
  private headerWaiter: { resolve(a: HeaderAck): void; reject(e: Error): void } | undefined;
  private verdictWaiter: { resolve(a: VerdictAck): void; reject(e: Error): void } | undefined;
  private error: Error | undefined;
  private onBroken: ((e: Error) => void) | undefined;

  private constructor(private readonly call: ClientDuplexStream<ConcludeRequest, ConcludeResponse>) {
    call.on('data', (res: ConcludeResponse) => {
      const m = res.msg;
      if (m?.$case === 'headerAck') this.headerWaiter?.resolve(m.headerAck);
      else if (m?.$case === 'verdictAck') this.verdictWaiter?.resolve(m.verdictAck);
    });
    call.on('error', (err: Error) => this.breakWith(err));
    call.on('end', () => this.breakWith(new Error('the Sentinel ended the Conclude call')));
  }

  static async open(client: SentinelClient, header: { jobId: string; attempt: number; leaseToken: string }): Promise<ConcludeClient> {
    const c = new ConcludeClient(client.conclude());
    const ack = new Promise<HeaderAck>((resolve, reject) => (c.headerWaiter = { resolve, reject }));
    await c.send({ msg: { $case: 'header', header } });
    await ack;
    c.headerWaiter = undefined;
    return c;
  }

  /** Called once if the call breaks before finish() completes. */
  whenBroken(fn: (e: Error) => void): void {
    this.onBroken = fn;
    if (this.error) fn(this.error);
  }

  send(msg: ConcludeRequest): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const ok = this.call.write(msg, (err?: Error | null) => (err ? reject(err) : undefined));
      if (ok) return resolve();
      const onDrain = (): void => {
        this.call.off('error', onError);
        resolve();
      };
      const onError = (e: Error): void => {
        this.call.off('drain', onDrain);
        reject(e);
      };
      this.call.once('drain', onDrain);
      this.call.once('error', onError);
    });
  }

  async finish(verdict: NonNullable<ConcludeRequest['msg'] & { $case: 'verdict' }>['verdict']): Promise<VerdictAck> {
    const ack = new Promise<VerdictAck>((resolve, reject) => (this.verdictWaiter = { resolve, reject }));
    if (this.error) throw this.error;
    await this.send({ msg: { $case: 'verdict', verdict } });
    const res = await ack;
    this.verdictWaiter = undefined;
    this.call.end();
    return res;
  }

  /** Give up on the call (nothing will be committed). */
  cancel(): void {
    this.call.cancel();
  }

  private breakWith(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.headerWaiter?.reject(err);
    this.verdictWaiter?.reject(err);
    this.onBroken?.(err);
  }
}
