/**
 * The terminal form of a log line: `HH:MM:SS.mmm LEVEL msg  key=value …`,
 * made from the JSON line pino wrote (already redacted).
 */
export function textLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, ts, msg, ...fields } = o;
  const kv = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const time = typeof ts === 'string' ? ts.slice(11, 23) : '';
  return `${time} ${String(level).toUpperCase().padEnd(5)} ${String(msg ?? '')}${kv ? '  ' + kv : ''}`;
}
