import { ROW_GROUP_ROWS } from '../../../services/sentinel/sinks/parquet-convert';
import { WasmWriterFactory } from '../../../services/sentinel/sinks/wasm-writer';
import { outputStoreSuite } from './output-store-suite';

outputStoreSuite({
  title: 'parquet-wasm writer',
  writers: () => new WasmWriterFactory(1),
  streaming: (name) => [`${name}.arrows`],
  afterFailedSeal: (name) => [`${name}.arrows`],
  rowGroups: (rows) => (rows > ROW_GROUP_ROWS ? [ROW_GROUP_ROWS, rows - ROW_GROUP_ROWS] : [rows]),
});
