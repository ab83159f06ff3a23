/**
 * `casparian fetch JOB --out FILE`: the output streamed to disk with bounded
 * memory, however large it is. FILE.parquet is converted from a temporary IPC
 * file beside it by the Sentinel's streaming converter (one message and one row
 * group in memory at a time); any other name gets the Arrow IPC stream bytes.
 * Nothing is left at FILE unless the whole output arrived: bytes go to
 * `FILE.part-PID` and are renamed into place at the end.
 */
import * as fs from 'node:fs/promises';
import type { OutputInfo } from '../../services/gen/casparian/v1/types';
import { convertIpcFileToParquet } from '../../services/sentinel/sinks/parquet-convert';
import type { SentinelClient } from './client';

async function streamToFile(c: SentinelClient, jobId: string, outputName: string, file: string): Promise<OutputInfo | undefined> {
  const fh = await fs.open(file, 'wx');
  let info: OutputInfo | undefined;
  try {
    for await (const m of c.fetchOutputStream(jobId, outputName)) {
      if (m.output) info = m.output;
      let at = 0;
      while (at < m.data.byteLength) at += (await fh.write(m.data, at, m.data.byteLength - at)).bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return info;
}

export async function fetchToFile(c: SentinelClient, jobId: string, outputName: string, dest: string): Promise<OutputInfo | undefined> {
  const part = `${dest}.part-${process.pid}`;
  const ipcFile = dest.endsWith('.parquet') ? `${part}.arrows` : part;
  try {
    const info = await streamToFile(c, jobId, outputName, ipcFile);
    if (ipcFile !== part) {
      await convertIpcFileToParquet(ipcFile, part, { codec: 'snappy' });
    }
    await fs.rename(part, dest);
    return info;
  } finally {
    await fs.rm(part, { force: true });
    await fs.rm(ipcFile, { force: true });
  }
}
