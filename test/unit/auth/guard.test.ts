import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { checkCall, type GuardOptions } from '../../../services/common/auth/guard';
import { hashToken, newToken, parseTokens, TokenStore } from '../../../services/common/auth/tokens';
import { ConfigError } from '../../../services/common/config';
import { silentLogger } from '../../../services/common/logger';

const md = (auth?: string): grpc.Metadata => {
  const m = new grpc.Metadata();
  if (auth !== undefined) m.set('authorization', auth);
  return m;
};

describe('unit: auth tokens and the call guard', () => {
  let dir: string;
  let now = 0;
  const client = newToken();
  const worker = newToken();
  let o: GuardOptions;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-guard-'));
    const file = path.join(dir, 'tokens');
    fs.writeFileSync(file, `client ${hashToken(client)} alice # the console\n\nworker ${hashToken(worker)}\n`);
    o = {
      tokens: new TokenStore(file, silentLogger, () => now),
      workerCertNames: ['pool-a'],
      workerMethods: ['/s.S/Dispatch'],
      guardedServices: ['s.S'],
    };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('parses roles, hashes and names, and names the line of an error', () => {
    const m = parseTokens(`client ${hashToken('a')}\n# x\nworker ${hashToken('b')} pool`, 'f');
    assert.deepEqual([...m.values()], [{ role: 'client', name: 'client@line1' }, { role: 'worker', name: 'pool' }]);
    assert.throws(() => parseTokens(`client ${hashToken('a')}\nclient ${hashToken('a')}`, 'f'), /f:2: the same token is listed twice/);
    assert.throws(() => parseTokens('client cft_plaintext', 'f'), (e: Error) => e instanceof ConfigError && /f:1: the token must be stored as sha256/.test(e.message));
    assert.throws(() => parseTokens(`root ${hashToken('a')}`, 'f'), /f:1: role must be client or worker/);
    const timed = parseTokens(`client ${hashToken('a')} carol expires=2027-03-01T00:00:00Z\nworker ${hashToken('b')} pool expires=2027-03-01T01:00:00+01:00`, 'f');
    assert.deepEqual([...timed.values()].map((e) => e.expiresAt), [Date.UTC(2027, 2, 1), Date.UTC(2027, 2, 1)]);
    assert.throws(() => parseTokens(`client ${hashToken('a')} carol expires=2027-03-01`, 'f'), /f:1: the fourth field must be expires=<ISO-8601 time with a zone>/);
    assert.throws(() => parseTokens(`client ${hashToken('a')} carol soon`, 'f'), /f:1: the fourth field must be expires=/);
    assert.throws(() => parseTokens(`client ${hashToken('a')} carol expires=2027-13-45T00:00:00Z`, 'f'), /f:1: the fourth field/);
  });

  it('refuses a token from its expiry on, saying it expired and never quoting it', () => {
    const carol = newToken();
    const file = path.join(dir, 'timed');
    fs.writeFileSync(file, `client ${hashToken(carol)} carol expires=2027-03-01T00:00:00Z\n`);
    let t = Date.UTC(2027, 1, 28, 23, 59, 59);
    const timed: GuardOptions = { ...o, tokens: new TokenStore(file, silentLogger, () => t), now: () => t };
    assert.equal(checkCall(timed, '/s.S/ListJobs', md(`Bearer ${carol}`), undefined), undefined, 'a second before: allowed');
    t += 1_000;
    const refused = checkCall(timed, '/s.S/ListJobs', md(`Bearer ${carol}`), undefined);
    assert.equal(refused?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(refused?.details, 'the token "carol" expired at 2027-03-01T00:00:00.000Z: make a new one (casparian token create) and delete the old line');
  });

  it('sorts callers into UNAUTHENTICATED, PERMISSION_DENIED and allowed', () => {
    assert.equal(checkCall(o, '/grpc.health.v1.Health/Check', md(), undefined), undefined, 'health is open');
    assert.equal(checkCall(o, '/s.S/ListJobs', md(`Bearer ${client}`), undefined), undefined);
    assert.equal(checkCall(o, '/s.S/Dispatch', md(`bearer ${worker}`), undefined), undefined);
    assert.equal(checkCall(o, '/s.S/ListJobs', md(), undefined)?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(checkCall(o, '/s.S/ListJobs', md('Basic abc'), undefined)?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(checkCall(o, '/s.S/ListJobs', md(`Bearer ${newToken()}`), undefined)?.code, grpc.status.UNAUTHENTICATED);
    const wrong = checkCall(o, '/s.S/Dispatch', md(`Bearer ${client}`), undefined);
    assert.equal(wrong?.code, grpc.status.PERMISSION_DENIED);
    assert.ok(!wrong!.details.includes(client), 'the message never quotes the token');
    assert.equal(checkCall(o, '/s.S/Dispatch', md(), 'pool-a'), undefined, 'an allowed certificate stands in for a worker token');
    assert.equal(checkCall(o, '/s.S/ListJobs', md(), 'pool-a')?.code, grpc.status.UNAUTHENTICATED, '...but not for a client token');
    assert.equal(checkCall(o, '/s.S/Dispatch', md(), 'someone')?.code, grpc.status.UNAUTHENTICATED);
  });

  it('re-reads the file when it changes, at most once a second', () => {
    const next = newToken();
    fs.writeFileSync(o.tokens.file, `client ${hashToken(next)}\n`);
    now += 500;
    assert.ok(o.tokens.lookup(client), 'within the second: the old set');
    now += 1_000;
    assert.equal(o.tokens.lookup(client), undefined, 'revoked');
    assert.equal(o.tokens.lookup(next)?.role, 'client');
  });
});
