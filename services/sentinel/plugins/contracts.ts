/**
 * Output contracts: what a plugin declares its outputs to be (a module-level
 * `OUTPUTS` mapping in its source) and how many bad rows each may set aside
 * (`QUARANTINE`). Read at publish time by parsing the source with Python's
 * ast, never importing it (services/sentinel/py/contract_extract.py), checked
 * here, and stored with the plugin version. Applied at commit by the Parquet
 * helper (services/sentinel/py/output_rules.py).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface ColumnSpec {
  name: string;
  /** A pyarrow type name: int64, string, timestamp[us, tz=UTC], decimal128(12, 2)… */
  type: string;
  nullable: boolean;
}

export interface QuarantinePolicy {
  /** The job fails (QUARANTINE_LIMIT) when more than this fraction of an output's rows is set aside. */
  maxFraction: number;
  /** ...or more than this many rows; 0 = no count limit. */
  maxRows: number;
}

export interface PluginContracts {
  /** Declared columns by output name; absent = the plugin declares nothing (no contract is enforced). */
  outputs?: Record<string, ColumnSpec[]>;
  /** Quarantine limits by output name (any output, declared or not); others get DEFAULT_QUARANTINE. */
  quarantine: Record<string, QuarantinePolicy>;
}

/** More than a tenth of an output's rows set aside fails the job. */
export const DEFAULT_QUARANTINE: Readonly<QuarantinePolicy> = Object.freeze({ maxFraction: 0.1, maxRows: 0 });

export const OUTPUT_NAME = /^[a-z][a-z0-9_]*$/;
/** Where an output's bad rows go; no plugin output may end so. */
export const QUARANTINE_SUFFIX = '_quarantine';
/** Column names the platform owns (lineage, quarantine); `_cf_row_error` is the one a plugin may send. */
export const RESERVED_COLUMN_PREFIX = '_cf_';

export const EXTRACT_SCRIPT = path.resolve(__dirname, '..', '..', '..', '..', 'services', 'sentinel', 'py', 'contract_extract.py');

/** A declaration that cannot be used; the publish gets INVALID_ARGUMENT with this message. */
export class ContractError extends Error {}

const ALIASES = new Set([
  'null', 'bool', 'boolean', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
  'float16', 'halffloat', 'float32', 'float', 'float64', 'double', 'string', 'str', 'utf8',
  'large_string', 'large_str', 'large_utf8', 'binary', 'large_binary', 'date32', 'date64', 'date32[day]', 'date64[ms]',
  'time32[s]', 'time32[ms]', 'time64[us]', 'time64[ns]', 'timestamp[s]', 'timestamp[ms]', 'timestamp[us]', 'timestamp[ns]',
]);

/** Whether output_rules.parse_type reads `name` as a type. */
export function isKnownType(name: string): boolean {
  const t = name.trim();
  if (ALIASES.has(t)) return true;
  if (/^timestamp\[(s|ms|us|ns),\s*tz=[A-Za-z0-9_+\-:/]+\]$/.test(t)) return true;
  const m = /^decimal(128|256)\((\d+),\s*(\d+)\)$/.exec(t);
  if (!m) return false;
  const [p, s] = [Number(m[2]), Number(m[3])];
  return p >= 1 && p <= (m[1] === '128' ? 38 : 76) && s <= p;
}

function checkOutputName(name: string, where: string): void {
  if (!OUTPUT_NAME.test(name)) throw new ContractError(`${where}: output name ${JSON.stringify(name)} must match [a-z][a-z0-9_]*`);
  if (name.endsWith(QUARANTINE_SUFFIX)) throw new ContractError(`${where}: output name ${JSON.stringify(name)} ends with ${QUARANTINE_SUFFIX}, which names quarantine outputs`);
}

/** Checks what contract_extract.py read; throws ContractError naming the first problem. */
export function checkContracts(raw: { outputs: Record<string, ColumnSpec[]> | null; quarantine: Record<string, Record<string, unknown>> | null }): PluginContracts {
  const out: PluginContracts = { quarantine: {} };
  if (raw.outputs) {
    out.outputs = {};
    for (const [output, columns] of Object.entries(raw.outputs)) {
      checkOutputName(output, 'OUTPUTS');
      const seen = new Set<string>();
      for (const c of columns) {
        const where = `OUTPUTS[${JSON.stringify(output)}] column ${JSON.stringify(c.name)}`;
        if (!c.name) throw new ContractError(`OUTPUTS[${JSON.stringify(output)}]: a column has an empty name`);
        if (c.name.startsWith(RESERVED_COLUMN_PREFIX)) throw new ContractError(`${where}: names starting with ${RESERVED_COLUMN_PREFIX} are reserved`);
        if (seen.has(c.name)) throw new ContractError(`${where}: declared twice`);
        seen.add(c.name);
        if (!isKnownType(c.type)) {
          throw new ContractError(`${where}: unknown type ${JSON.stringify(c.type)}; use a pyarrow type name such as int64, float64, string, bool, date32, timestamp[us], timestamp[us, tz=UTC] or decimal128(12, 2)`);
        }
      }
      out.outputs[output] = columns.map((c) => ({ name: c.name, type: c.type.trim(), nullable: c.nullable }));
    }
  }
  for (const [output, p] of Object.entries(raw.quarantine ?? {})) {
    checkOutputName(output, 'QUARANTINE');
    const unknown = Object.keys(p).filter((k) => k !== 'max_fraction' && k !== 'max_rows');
    if (unknown.length) throw new ContractError(`QUARANTINE[${JSON.stringify(output)}]: unknown key ${unknown[0]}; the keys are max_fraction and max_rows`);
    const maxFraction = p.max_fraction ?? DEFAULT_QUARANTINE.maxFraction;
    const maxRows = p.max_rows ?? DEFAULT_QUARANTINE.maxRows;
    if (typeof maxFraction !== 'number' || !(maxFraction >= 0 && maxFraction <= 1)) throw new ContractError(`QUARANTINE[${JSON.stringify(output)}]: max_fraction must be a number from 0 to 1`);
    if (typeof maxRows !== 'number' || !Number.isSafeInteger(maxRows) || maxRows < 0) throw new ContractError(`QUARANTINE[${JSON.stringify(output)}]: max_rows must be a whole number >= 0 (0 = no count limit)`);
    out.quarantine[output] = { maxFraction, maxRows };
  }
  return out;
}

/** A plugin's contracts, read from its source with `python` (ast only); undefined when it declares neither OUTPUTS nor QUARANTINE. */
export async function extractContracts(source: string, python: string, timeoutMs = 15_000): Promise<PluginContracts | undefined> {
  // Both must be assigned at module level, i.e. at the start of a line.
  if (!/^(OUTPUTS|QUARANTINE)\b/m.test(source)) return undefined;
  const text = await runExtractor(source, python, timeoutMs);
  let reply: { error?: string; outputs: Record<string, ColumnSpec[]> | null; quarantine: Record<string, Record<string, unknown>> | null };
  try {
    reply = JSON.parse(text);
  } catch {
    throw new Error(`the contract reader printed something unreadable: ${text.slice(0, 200)}`);
  }
  if (reply.error) throw new ContractError(reply.error);
  if (!reply.outputs && !reply.quarantine) return undefined;
  return checkContracts(reply);
}

function runExtractor(source: string, python: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-I', EXTRACT_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 4096)));
    child.on('error', (e) => reject(new Error(`cannot run ${python} to read the plugin's OUTPUTS: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`reading the plugin's OUTPUTS with ${python} failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(source);
  });
}

/** The quarantine limits of `output`. */
export function quarantinePolicy(contracts: PluginContracts | undefined, output: string): QuarantinePolicy {
  return contracts?.quarantine[output] ?? DEFAULT_QUARANTINE;
}

/** Why `quarantined` of `kept + quarantined` rows is over the output's limits, or '' when it is not. */
export function overQuarantineLimit(output: string, kept: number, quarantined: number, p: QuarantinePolicy): string {
  if (quarantined === 0) return '';
  const total = kept + quarantined;
  const fraction = quarantined / total;
  if (p.maxRows > 0 && quarantined > p.maxRows) return `output ${JSON.stringify(output)}: ${quarantined} of ${total} rows quarantined, over max_rows ${p.maxRows}`;
  if (fraction > p.maxFraction) {
    return `output ${JSON.stringify(output)}: ${quarantined} of ${total} rows quarantined (${(fraction * 100).toFixed(1)}%), over max_fraction ${p.maxFraction}`;
  }
  return '';
}
