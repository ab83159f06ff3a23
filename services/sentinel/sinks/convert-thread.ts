/**
 * Worker-thread entry of convert-pool.ts: converts staged IPC files to
 * Parquet with parquet-wasm (parquet-convert.ts), one request at a time, so
 * that the encoding never runs on the Sentinel's event loop.
 *
 *   request  { id, ipcPath, parquetPath, options }
 *   reply    { id, result } | { id, error: { name, message } }
 */
import { parentPort } from 'node:worker_threads';
import { convertIpcFileToParquet } from './parquet-convert';
import type { ConversionResult, ConvertOptions } from './output-writer';

export interface ConvertRequest {
  id: number;
  ipcPath: string;
  parquetPath: string;
  options: ConvertOptions;
}

export type ConvertReply = { id: number; result: ConversionResult } | { id: number; error: { name: string; message: string } };

parentPort?.on('message', (req: ConvertRequest) => {
  convertIpcFileToParquet(req.ipcPath, req.parquetPath, req.options).then(
    (result) => parentPort!.postMessage({ id: req.id, result } satisfies ConvertReply),
    (err: Error) => parentPort!.postMessage({ id: req.id, error: { name: err?.name ?? 'Error', message: err?.message ?? String(err) } } satisfies ConvertReply),
  );
});
