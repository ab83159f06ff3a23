/** Client-side conversion of fetched Arrow IPC bytes into a Parquet file. */
import { Table, writeParquet, WriterPropertiesBuilder, Compression } from 'parquet-wasm';

export function ipcToParquet(ipc: Uint8Array): Uint8Array {
  const table = Table.fromIPCStream(ipc);
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).build();
  return writeParquet(table, props);
}
