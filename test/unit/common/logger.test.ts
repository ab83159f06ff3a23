import { strict as assert } from 'node:assert';
import { Logger, type LogLevel } from '../../../services/common/logger';

/** A logger at `level` that keeps its lines. */
function recording(format: 'json' | 'text' = 'json', level: LogLevel = 'debug', fields = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level, format, write: (l) => lines.push(l) }, fields), lines };
}

const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('unit: Logger (pino)', () => {
  it('writes one JSON line per call: level name, ISO ts, scope fields, extra fields, msg', () => {
    const { log, lines } = recording('json', 'debug', { service: 'sentinel' });
    log.scope({ jobId: 'j1', attempt: 2 }).info('attempt committed', { rows: 7 });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0].includes('\n'), 'no newline in a line handed to write');
    const [l] = parsed(lines);
    assert.equal(l.level, 'info');
    assert.match(String(l.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual({ ...l, ts: undefined }, { level: 'info', ts: undefined, service: 'sentinel', jobId: 'j1', attempt: 2, rows: 7, msg: 'attempt committed' });
  });

  it('drops lines below its level; a field of the call wins over the scope\'s', () => {
    const { log, lines } = recording('json', 'warn');
    const s = log.scope({ state: 'old' });
    s.debug('no');
    s.info('no');
    s.warn('yes', { state: 'new' });
    s.error('also');
    assert.deepEqual(
      parsed(lines).map((l) => [l.level, l.msg, l.state]),
      [
        ['warn', 'yes', 'new'],
        ['error', 'also', 'old'],
      ],
    );
  });

  it('text format: time, padded level, message, key=value', () => {
    const { log, lines } = recording('text');
    log.scope({ service: 'worker' }).warn('env gc failed', { error: 'disk', n: 3, o: { a: 1 } });
    assert.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} WARN  env gc failed {2}service=worker error=disk n=3 o=\{"a":1\}$/);
  });

  it('censors secret fields at the top level and one object down, in scopes and calls', () => {
    const { log, lines } = recording();
    log
      .scope({ token: 'cft_scope', auth: { authorization: 'Bearer cft_nested_scope' } })
      .info('call', { leaseToken: 'lease-1', lease_token: 'lease-2', password: 'pw', req: { token: 'cft_nested', secret: 's3' } });
    const text = lines.join('\n');
    for (const s of ['cft_scope', 'cft_nested_scope', 'lease-1', 'lease-2', '"pw"', 'cft_nested', 's3']) assert.ok(!text.includes(s), `${s} in ${text}`);
    const [l] = parsed(lines);
    assert.equal(l.leaseToken, '[redacted]');
    assert.deepEqual(l.req, { token: '[redacted]', secret: '[redacted]' });
    assert.deepEqual(l.auth, { authorization: '[redacted]' });
  });

  it('removes credentials from URLs in the message and in any string value, at any depth', () => {
    const { log, lines } = recording();
    log.scope({ index: 'https://alice:scope-pw@pypi.example/simple' }).error('pip failed for https://bob:msg-pw@pypi.example/simple', {
      a: { b: { c: ['see http://carol:deep-pw@host:8080/x'] } },
      err: new Error('fetch https://dave:err-pw@host/ failed'),
    });
    const text = lines.join('\n');
    for (const s of ['scope-pw', 'msg-pw', 'deep-pw', 'err-pw', 'alice', 'bob', 'carol', 'dave']) assert.ok(!text.includes(s), `${s} in ${text}`);
    const [l] = parsed(lines);
    assert.equal(l.msg, 'pip failed for https://***@pypi.example/simple');
    assert.equal(l.index, 'https://***@pypi.example/simple');
    assert.deepEqual(l.a, { b: { c: ['see http://***@host:8080/x'] } });
    assert.equal((l.err as { message: string }).message, 'fetch https://***@host/ failed');
  });

  it('text format is redacted too', () => {
    const { log, lines } = recording('text');
    log.info('to https://u:pw@h/', { token: 'cft_x' });
    assert.ok(!/pw|cft_x/.test(lines[0]), lines[0]);
  });
});
