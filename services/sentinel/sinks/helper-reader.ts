/**
 * FetchOutput's reader when the Parquet helper runs: the helper decodes the
 * Parquet file with pyarrow and sends it back as one Arrow IPC stream in
 * frames `[u32 BE length][bytes]`, ended by a zero-length frame (or 0xFFFFFFFF
 * and a JSON error line). The socket is read only as fast as the caller pulls,
 * so memory stays bounded by the socket buffers and one frame.
 */
import type { ParquetHelper } from './parquet-helper';
import { HelperError } from './parquet-helper';

const ERROR_FRAME = 0xffffffff;

/** Rows per record batch the helper reads at a time. */
export const HELPER_READ_BATCH_ROWS = 64 * 1024;

export async function* readIpcWithHelper(helper: ParquetHelper, parquetPath: string, batchRows = HELPER_READ_BATCH_ROWS): AsyncGenerator<Uint8Array> {
  const sock = await helper.connect({ op: 'read', parquet: parquetPath, batchRows });
  let pending: Buffer[] = [];
  let buffered = 0;
  /** Bytes left of the current frame's payload; -1 while a length is expected. */
  let left = -1;
  let ended = false;
  const take = (n: number): Buffer => {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = pending[0];
      if (head.byteLength <= need) {
        parts.push(head);
        pending.shift();
        need -= head.byteLength;
      } else {
        parts.push(head.subarray(0, need));
        pending[0] = head.subarray(need);
        need = 0;
      }
    }
    buffered -= n;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  };
  try {
    for await (const chunk of sock as AsyncIterable<Buffer>) {
      pending.push(chunk);
      buffered += chunk.byteLength;
      for (;;) {
        if (left < 0) {
          if (buffered < 4) break;
          const len = take(4).readUInt32BE(0);
          if (len === 0) {
            ended = true;
            return;
          }
          if (len === ERROR_FRAME) {
            const rest = Buffer.concat([...pending]).toString('utf8');
            pending = [];
            throw new HelperError(`the Parquet helper could not read ${parquetPath}: ${rest.trim().slice(0, 500) || 'no reason given'}`);
          }
          left = len;
        }
        if (buffered === 0) break;
        const piece = take(Math.min(left, buffered));
        left -= piece.byteLength;
        if (left === 0) left = -1;
        yield piece;
      }
    }
    if (!ended) throw new HelperError(`the Parquet helper closed the connection before the end of ${parquetPath}`);
  } finally {
    sock.destroy();
  }
}
