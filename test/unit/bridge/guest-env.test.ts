import assert from 'node:assert/strict';
import { buildGuestEnv, validateExtraEnv } from '../../../services/worker/bridge/guest-env';

describe('bridge guest environment', () => {
  const base = {
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    HOME: '/root',
    AWS_SECRET_ACCESS_KEY: 'shh',
    DATABASE_URL: 'postgres://u:p@h/db',
    NODE_OPTIONS: '--inspect',
    PYTHONPATH: '/evil',
  };

  it('keeps only allow-listed variables and sets the bridge ones', () => {
    const env = buildGuestEnv({ base, privateDir: '/tmp/x', socketPath: '/tmp/x/bridge.sock', token: 'tok', python: '/envs/h/bin/python' });
    assert.deepEqual(env, {
      PATH: '/envs/h/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      HOME: '/tmp/x',
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      CASPARIAN_BRIDGE_SOCKET: '/tmp/x/bridge.sock',
      CASPARIAN_BRIDGE_TOKEN: 'tok',
    });
  });

  it('adds extraEnv but never lets it replace HOME or the bridge variables', () => {
    const env = buildGuestEnv({ base: {}, privateDir: '/p', socketPath: '/p/s', token: 't', extraEnv: { FOO: 'bar' } });
    assert.equal(env.FOO, 'bar');
    assert.equal(env.PATH, '/usr/local/bin:/usr/bin:/bin');
    assert.throws(() => validateExtraEnv({ CASPARIAN_BRIDGE_TOKEN: 'x' }), TypeError);
    assert.throws(() => validateExtraEnv({ HOME: '/' }), TypeError);
    assert.throws(() => validateExtraEnv({ 'A=B': 'x' }), TypeError);
    assert.throws(() => validateExtraEnv({ A: 'x\0y' }), TypeError);
  });
});
