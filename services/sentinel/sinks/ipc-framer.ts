/**
 * The strict framing rules of ipc-messages.ts, applied incrementally to bytes
 * as they stream past (one chunk at a time, nothing held but the 8-byte
 * prefix and the flatbuffer metadata of the current message). Used where the
 * bytes go on to a decoder that is more lenient than these rules (pyarrow reads
 * a stream cut at a message boundary as a shorter valid stream).
 *
 * push() throws IpcFormatError at the first violation; end() throws unless the
 * stream ended exactly after its end-of-stream marker.
 */
import {
  CONTINUATION,
  DEFAULT_IPC_LIMITS,
  IpcFormatError,
  decodeMetadata,
  type IpcLimits,
  type IpcMessage,
} from './ipc-messages';

type Phase = 'prefix' | 'metadata' | 'body' | 'ended';

export class IpcFramer {
  private phase: Phase = 'prefix';
  private pos = 0;
  /** Bytes of the prefix or metadata gathered so far. */
  private head: Uint8Array = new Uint8Array(8);
  private headLen = 0;
  private need = 8;
  private messageStart = 0;
  private index = 0;
  private prefix: Uint8Array | undefined;
  /** The schema message (prefix + metadata; a schema has no body), once seen. */
  schemaMessage: IpcMessage | undefined;
  /** Rows declared by the record batches seen so far. */
  rows = 0;
  batches = 0;

  constructor(private readonly limits: IpcLimits = DEFAULT_IPC_LIMITS) {}

  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.byteLength) {
      if (this.phase === 'ended') {
        throw new IpcFormatError(`${bytes.byteLength - at} unexpected bytes after the end-of-stream marker`);
      }
      if (this.phase === 'body') {
        const n = Math.min(this.need, bytes.byteLength - at);
        this.need -= n;
        at += n;
        this.pos += n;
        if (this.need === 0) this.startMessage();
        continue;
      }
      const n = Math.min(this.need - this.headLen, bytes.byteLength - at);
      this.head.set(bytes.subarray(at, at + n), this.headLen);
      this.headLen += n;
      at += n;
      this.pos += n;
      if (this.headLen === this.need) {
        if (this.phase === 'prefix') this.onPrefix();
        else this.onMetadata();
      }
    }
  }

  /** The stream is complete: it ended right after its EOS marker. */
  end(): void {
    if (this.phase === 'ended') return;
    if (this.pos === 0) throw new IpcFormatError('stream is empty');
    throw new IpcFormatError(`stream is truncated: no end-of-stream marker after byte ${this.messageStart}`);
  }

  private startMessage(): void {
    this.phase = 'prefix';
    this.messageStart = this.pos;
    this.head = this.head.byteLength === 8 ? this.head : new Uint8Array(8);
    this.headLen = 0;
    this.need = 8;
  }

  private onPrefix(): void {
    const dv = new DataView(this.head.buffer, this.head.byteOffset, 8);
    if (dv.getUint32(0, true) !== CONTINUATION) {
      throw new IpcFormatError(`not an Arrow IPC stream: no continuation marker at byte ${this.messageStart}`);
    }
    const metaLen = dv.getInt32(4, true);
    if (metaLen === 0) {
      if (this.index === 0) throw new IpcFormatError('stream ends before its schema');
      this.phase = 'ended';
      return;
    }
    if (metaLen < 0 || metaLen > this.limits.maxMetadataBytes) {
      throw new IpcFormatError(`message at byte ${this.messageStart} has an invalid metadata length ${metaLen}`);
    }
    this.prefix = this.head.slice(0, 8);
    this.phase = 'metadata';
    this.head = new Uint8Array(metaLen);
    this.headLen = 0;
    this.need = metaLen;
  }

  private onMetadata(): void {
    const start = this.messageStart;
    const info = decodeMetadata(this.head, start);
    if (info.bodyLength > this.limits.maxBodyBytes) {
      throw new IpcFormatError(`message at byte ${start} has a ${info.bodyLength}-byte body, over the ${this.limits.maxBodyBytes}-byte limit`);
    }
    if ((this.index === 0) !== (info.kind === 'schema')) {
      throw new IpcFormatError(this.index === 0 ? `stream starts with a ${info.kind} message, not a schema` : `second schema at byte ${start}`);
    }
    if (info.compressed) {
      throw new IpcFormatError(`message at byte ${start} uses IPC body compression, which is not accepted; write uncompressed IPC`);
    }
    if (info.kind === 'schema') {
      const bytes = new Uint8Array(8 + this.head.byteLength);
      bytes.set(this.prefix!, 0);
      bytes.set(this.head, 8);
      this.schemaMessage = { ...info, bytes, offset: start };
    } else if (info.kind === 'record_batch') {
      this.rows += info.rows;
      this.batches++;
    }
    this.index++;
    this.phase = 'body';
    this.need = info.bodyLength;
    this.head = new Uint8Array(8);
    this.headLen = 0;
    if (this.need === 0) this.startMessage();
  }
}
