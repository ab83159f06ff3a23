/**
 * The worker's side of one Sentinel.Conclude call, as an attempt's
 * AttemptChannel. open() sends the header and waits for the Sentinel's ack
 * (the lease check); every send respects backpressure; finish() sends the
 * verdict and waits for its ack. If the Sentinel aborts, the channel is
 * broken: onBroken listeners hear it once and every later send fails.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { jobErrorToPb } from '../../common/job-error-pb';
import type { ConcludeRequest, ConcludeResponse, HeaderAck, VerdictAck } from '../../gen/casparian/v1/dispatch';
import type { SentinelClient } from '../../gen/casparian/v1/sentinel';
import { jobStateToJSON } from '../../gen/casparian/v1/types';
import type { AttemptChannel, AttemptRef, AttemptResult, VerdictReceipt } from '../attempt/types';
import { verdictStatus } from './mappers';

export class ConcludeChannel implements AttemptChannel {
  private headerWaiter: { resolve(a: HeaderAck): void; reject(e: Error): void } | undefined;
  private verdictWaiter: { resolve(a: VerdictAck): void; reject(e: Error): void } | undefined;
  private error: Error | undefined;
  private onBrokenFn: ((e: Error) => void) | undefined;
  /** The verdict was acknowledged: the Sentinel ending the call now is the normal end, not a break. */
  private acknowledged = false;

  private constructor(
    private readonly call: ClientDuplexStream<ConcludeRequest, ConcludeResponse>,
    private readonly attempt: number,
  ) {
    call.on('data', (res: ConcludeResponse) => {
      const m = res.msg;
      if (m?.$case === 'headerAck') this.headerWaiter?.resolve(m.headerAck);
      else if (m?.$case === 'verdictAck') {
        this.acknowledged = true;
        this.verdictWaiter?.resolve(m.verdictAck);
      }
    });
    call.on('error', (err: Error) => this.breakWith(err));
    call.on('end', () => {
      if (!this.acknowledged) this.breakWith(new Error('the Sentinel ended the Conclude call'));
    });
  }

  /** Opens the call for `ref`; rejects when the Sentinel refuses the header (a lease that is not current). */
  static async open(client: SentinelClient, ref: AttemptRef): Promise<ConcludeChannel> {
    const c = new ConcludeChannel(client.conclude(), ref.attempt);
    const ack = new Promise<HeaderAck>((resolve, reject) => (c.headerWaiter = { resolve, reject }));
    ack.catch(() => undefined); // the same race on the header: a failed send is what gets reported
    await c.send({ msg: { $case: 'header', header: { jobId: ref.jobId, attempt: ref.attempt, leaseToken: ref.leaseToken } } });
    await ack;
    c.headerWaiter = undefined;
    return c;
  }

  log(level: string, source: 'plugin' | 'env' | 'worker', message: string): Promise<void> {
    return this.send({ msg: { $case: 'log', log: { attempt: this.attempt, level, message, source, time: new Date() } } });
  }

  progress(p: { rows: number; fraction: number; message: string }): Promise<void> {
    return this.send({ msg: { $case: 'progress', progress: p } });
  }

  chunk(outputName: string, data: Buffer): Promise<void> {
    return this.send({ msg: { $case: 'chunk', chunk: { outputName, data } } });
  }

  source(sha256: string): Promise<void> {
    return this.send({ msg: { $case: 'source', source: { sha256 } } });
  }

  onBroken(fn: (e: Error) => void): void {
    this.onBrokenFn = fn;
    if (this.error) fn(this.error);
  }

  async finish(result: AttemptResult): Promise<VerdictReceipt> {
    const ack = new Promise<VerdictAck>((resolve, reject) => (this.verdictWaiter = { resolve, reject }));
    // The call may break while the verdict is being sent (the Sentinel failed the attempt on the last
    // chunk): then the send rejects and is what we report; the ack's rejection must not go unhandled.
    ack.catch(() => undefined);
    if (this.error) throw this.error;
    await this.send({
      msg: {
        $case: 'verdict',
        verdict: { status: verdictStatus(result.status), error: result.error ? jobErrorToPb(result.error) : undefined, metrics: result.metrics },
      },
    });
    const res = await ack;
    this.verdictWaiter = undefined;
    this.call.end();
    return { jobState: jobStateToJSON(res.state) };
  }

  /** Give up on the call (nothing will be committed). */
  abandon(): void {
    this.call.cancel();
  }

  private send(msg: ConcludeRequest): Promise<void> {
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

  private breakWith(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.headerWaiter?.reject(err);
    this.verdictWaiter?.reject(err);
    this.onBrokenFn?.(err);
  }
}
