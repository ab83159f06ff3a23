/**
 * The declared settings read from their four places: a flag over its
 * CASPARIAN_* variable over the config file (a service's section over the
 * top level) over the default; every bad value is a ConfigError that names
 * the setting as it was given; the effective view redacts secrets.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileSentinelConfig, compileWorkerConfig, ConfigError, effectiveConfig, sentinelAddresses, SETTINGS } from '../../../services/common/config';
import { closest } from '../../../services/common/config/file';

const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);

describe('unit: config settings', () => {
  let dir: string;
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casparian-config-unit-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes a flag over its variable, the variable over the file, the section over the top level, the file over the default', () => {
    const file = write('layers.yaml', 'port: 1000\nsentinel:\n  port: 2000\nminFreeBytes: 7\n');
    const flags = { config: file };
    assert.equal(compileSentinelConfig({ ...flags, port: '4000' }, { CASPARIAN_PORT: '3000' }).port, 4000);
    assert.equal(compileSentinelConfig(flags, { CASPARIAN_PORT: '3000' }).port, 3000);
    assert.equal(compileSentinelConfig(flags, {}).port, 2000);
    assert.equal(compileSentinelConfig({ config: write('top.yaml', 'port: 1000\n') }, {}).port, 1000);
    assert.equal(compileSentinelConfig({}, {}).port, 50051);
    assert.equal(compileSentinelConfig(flags, {}).minFreeBytes, 7, 'a top-level key applies when no section sets it');
    assert.equal(compileSentinelConfig({}, { CASPARIAN_CONFIG: file }).port, 2000, 'CASPARIAN_CONFIG names the file too');
    assert.equal(compileSentinelConfig({}, { CASPARIAN_PORT: '' }).port, 50051, 'an empty variable is unset');
  });

  it("gives each service its own section of one file", () => {
    const file = write('both.yaml', 'metricsPort: 9000\nsentinel:\n  metricsPort: 9001\nworker:\n  slots: 3\n  workerPort: -1\n  guestEnvAllow: [A, B]\n  installEnvAllow: "C, D"\n');
    assert.equal(compileSentinelConfig({ config: file }, {}).metrics.port, 9001);
    const w = compileWorkerConfig({ config: file }, {});
    assert.deepEqual([w.metrics.port, w.slots, w.port], [9000, 3, -1]);
    assert.deepEqual(w.guestEnvAllow, ['A', 'B'], 'a YAML list');
    assert.deepEqual(w.installEnvAllow, ['C', 'D'], "or the flag's text");
  });

  it("resolves relative paths in a file against the file's directory, in a flag against the working directory", () => {
    const file = write('paths.yaml', 'dataDir: state\ninputRoot: [in, /abs/in]\n');
    const cfg = compileSentinelConfig({ config: file }, {});
    assert.equal(cfg.dataDir, path.join(dir, 'state'));
    assert.deepEqual(cfg.inputRoots, [path.join(dir, 'in'), '/abs/in']);
    assert.equal(compileSentinelConfig({ config: file, 'data-dir': 'here' }, {}).dataDir, path.resolve('here'));
  });

  it('names a bad value the way it was given: flag, variable, or file and line', () => {
    assert.throws(() => compileSentinelConfig({ port: 'abc' }, {}), configError(/^--port \(CASPARIAN_PORT\) must be an integer >= 0, got "abc"$/));
    assert.throws(() => compileWorkerConfig({}, { CASPARIAN_SLOTS: '0' }), configError(/^CASPARIAN_SLOTS \(--slots\) must be an integer >= 1, got "0"$/));
    assert.throws(() => compileSentinelConfig({}, { CASPARIAN_LEASE_MS: '1.5' }), configError(/^CASPARIAN_LEASE_MS must be an integer >= 100, got "1.5"$/));
    assert.throws(() => compileSentinelConfig({}, { CASPARIAN_INSECURE: 'maybe' }), configError(/^CASPARIAN_INSECURE \(--insecure\) must be true or false/));
    assert.throws(() => compileSentinelConfig({ 'commit-writer': 'disk' }, {}), configError(/^--commit-writer \(CASPARIAN_COMMIT_WRITER\) must be one of auto, pyarrow, wasm; got "disk"$/));
    const bad = write('bad-value.yaml', 'host: 127.0.0.1\nsentinel:\n  port: fifty\n');
    assert.throws(() => compileSentinelConfig({ config: bad }, {}), configError(new RegExp(`^config file ${bad}:3: sentinel.port must be an integer >= 0, got "fifty"$`)));
    // The file is checked as a whole: a worker's bad value stops the Sentinel too.
    const workerBad = write('worker-bad.yaml', 'worker:\n  slots: -2\n');
    assert.throws(() => compileSentinelConfig({ config: workerBad }, {}), configError(/worker-bad.yaml:2: worker.slots must be an integer >= 1, got -2/));
    // A flag that fixes nothing in the file does not hide the file's mistake; one that overrides it does not either.
    assert.throws(() => compileSentinelConfig({ config: bad, port: '1' }, {}), configError(/sentinel.port/));
  });

  it('refuses an unknown key (suggesting the nearest), a key in the wrong section, and a file that does not parse, naming file and line', () => {
    const unknown = write('unknown.yaml', 'port: 1\nsentinel:\n  retainSecond: 5\n');
    assert.throws(() => compileSentinelConfig({ config: unknown }, {}), configError(/unknown.yaml:3: unknown setting "sentinel.retainSecond" \(did you mean "retainSeconds"\?\)/));
    const flagStyle = write('flag-style.yaml', 'data-dir: x\n');
    assert.throws(() => compileSentinelConfig({ config: flagStyle }, {}), configError(/flag-style.yaml:1: unknown setting "data-dir" \(did you mean "dataDir"\?\)/));
    const misplaced = write('misplaced.yaml', 'sentinel:\n  slots: 2\n');
    assert.throws(() => compileWorkerConfig({ config: misplaced }, {}), configError(/misplaced.yaml:2: sentinel.slots is not a setting of the sentinel/));
    const broken = write('broken.yaml', 'port: 1\nhost: [127.0.0.1\n');
    assert.throws(() => compileSentinelConfig({ config: broken }, {}), configError(/^config file .*broken.yaml:\d+: /));
    const json = write('broken.json', '{\n  "port": 1\n  "host": "x"\n}\n');
    assert.throws(() => compileSentinelConfig({ config: json }, {}), configError(/broken.json:3: not valid JSON/));
    const list = write('list.yaml', '- port\n');
    assert.throws(() => compileSentinelConfig({ config: list }, {}), configError(/list.yaml:1: must be a mapping/));
    assert.throws(() => compileSentinelConfig({ config: write('c.toml', 'port = 1') }, {}), configError(/c.toml: name it .yaml, .yml, .json/));
    assert.throws(() => compileSentinelConfig({ config: path.join(dir, 'missing.yaml') }, {}), configError(/missing.yaml: cannot read it \(ENOENT\)/));
    assert.equal(closest('workerport'), 'workerPort');
    assert.equal(closest('completely-different'), undefined);
  });

  it("sets the Sentinel's address for workers and clients beside a sentinel section", () => {
    const file = write('address.yaml', 'sentinelAddress: sentinel.example:7000\nsentinel:\n  port: 7000\nworker:\n  workerPort: -1\n');
    assert.deepEqual(sentinelAddresses({ config: file }, {}), ['sentinel.example:7000']);
    assert.deepEqual(compileWorkerConfig({ config: file }, {}).sentinels, ['sentinel.example:7000']);
    assert.deepEqual(compileWorkerConfig({ config: file, sentinel: 'other:1' }, {}).sentinels, ['other:1']);
    assert.equal(compileSentinelConfig({ config: file }, {}).port, 7000);
    assert.deepEqual(sentinelAddresses({}, {}), ['localhost:50051'], 'the default');
  });

  it('takes several Sentinel addresses from a flag, a variable or a file list, and names a bad entry', () => {
    assert.deepEqual(sentinelAddresses({ sentinel: 'a:1, b:2' }, {}), ['a:1', 'b:2']);
    assert.deepEqual(compileWorkerConfig({ 'worker-port': '-1' }, { CASPARIAN_SENTINEL: 'a:1,dns:///sentinels.example:50051' }).sentinels, ['a:1', 'dns:///sentinels.example:50051']);
    const list = write('addresses.yaml', 'sentinelAddress: [a.example:1, "[::1]:2"]\n');
    assert.deepEqual(sentinelAddresses({ config: list }, {}), ['a.example:1', '[::1]:2']);
    assert.deepEqual(sentinelAddresses({ config: write('addresses-text.yaml', 'sentinelAddress: "a:1,b:2"\n') }, {}), ['a:1', 'b:2']);

    assert.throws(
      () => sentinelAddresses({ sentinel: 'a:1,b' }, {}),
      configError(/^--sentinel \(CASPARIAN_SENTINEL\) must be a comma-separated list of HOST:PORT or dns:\/\/\/NAME:PORT, got "a:1,b": entry "b": has no port/),
    );
    assert.throws(() => compileWorkerConfig({}, { CASPARIAN_SENTINEL: 'a:1,b:99999' }), configError(/^CASPARIAN_SENTINEL \(--sentinel\) must be .*: entry "b:99999": port "99999" is not a number from 1 to 65535$/));
    const bad = write('bad-address.yaml', 'worker:\n  workerPort: -1\nsentinelAddress: [a:1, "http://b:2"]\n');
    assert.throws(() => compileWorkerConfig({ config: bad }, {}), configError(new RegExp(`^config file ${bad}:3: sentinelAddress must be .*: entry "http://b:2": the scheme "http:" is not taken here`)));
    assert.throws(() => sentinelAddresses({ sentinel: ' , ' }, {}), configError(/: no address is given$/));
    assert.throws(() => sentinelAddresses({ sentinel: 'a:1,A:1' }, {}), configError(/entry "A:1" is given twice/));
  });

  it('reads JSON files with the same keys', () => {
    const file = write('c.json', JSON.stringify({ port: 7000, worker: { slots: 5, workerPort: -1 } }));
    assert.equal(compileSentinelConfig({ config: file }, {}).port, 7000);
    assert.equal(compileWorkerConfig({ config: file }, {}).slots, 5);
  });

  it('shows the effective settings with their origin, tokens redacted and credentials in URLs masked', () => {
    const file = write('secrets.yaml', 'indexUrl: https://alice:hunter2@pypi.example/simple\nworker:\n  token: cft_file_token\n  workerPort: -1\n');
    const view = effectiveConfig({ config: file, slots: '2' }, { CASPARIAN_ENV_MODE: 'strict' }, 'worker');
    assert.deepEqual(view.slots, { value: 2, from: 'flag', via: '--slots' });
    assert.deepEqual(view.envMode, { value: 'strict', from: 'env', via: 'CASPARIAN_ENV_MODE' });
    assert.deepEqual(view.token, { value: '[redacted]', from: 'file', via: `${file}:3` });
    assert.equal(view.indexUrl.value, 'https://***@pypi.example/simple');
    assert.deepEqual(view.isolation, { value: 'fork', from: 'default' });
    assert.ok(!('port' in view), "only the worker's settings");
    const text = JSON.stringify(view);
    for (const secret of ['hunter2', 'alice', 'cft_file_token']) assert.ok(!text.includes(secret), `${secret} leaked`);
    assert.equal(effectiveConfig({}, { CASPARIAN_TOKEN: 'cft_env' }, 'client').token.value, '[redacted]');
    assert.equal(effectiveConfig({}, {}, 'client').token.value, null, 'unset is null, not "[redacted]"');
  });

  it('declares every setting with a description, a name for users and a service that reads it', () => {
    for (const [key, s] of Object.entries(SETTINGS)) {
      assert.ok(s.description.trim().length > 10, key);
      assert.ok(s.services.length > 0, key);
      if (s.env) assert.match(s.env, /^CASPARIAN_[A-Z_]+$/, key);
      if (s.flag && key !== 'sentinelAddress') assert.equal(s.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), key, `${key}: the file key is the flag in camelCase`);
      assert.ok(!['sentinel', 'worker'].includes(key), `${key} would be taken for a section of the config file`);
    }
  });
});
