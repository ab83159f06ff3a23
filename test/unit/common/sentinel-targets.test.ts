/** Sentinel targets (`--sentinel`): which entries are taken, what a bad one is told, and the channel options of a dns: target. */
import { strict as assert } from 'node:assert';
import { isDnsTarget, parseSentinelTargets, targetChannelOptions } from '../../../services/common/sentinel-targets';

const problem = (value: string): string => {
  try {
    parseSentinelTargets(value);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

describe('unit: Sentinel targets', () => {
  it('takes HOST:PORT, [IPv6]:PORT and dns: targets, trimmed, in the order given', () => {
    assert.deepEqual(parseSentinelTargets('127.0.0.1:50051'), ['127.0.0.1:50051']);
    assert.deepEqual(parseSentinelTargets(' a.example:1 ,b-2.example:65535,'), ['a.example:1', 'b-2.example:65535']);
    assert.deepEqual(parseSentinelTargets(['[::1]:50051', 'sentinel_0:7', 'localhost:50051']), ['[::1]:50051', 'sentinel_0:7', 'localhost:50051']);
    for (const t of ['dns:///sentinels.example:50051', 'dns:sentinels.example:50051', 'DNS:///x:1']) {
      assert.deepEqual(parseSentinelTargets(t), [t], t);
    }
  });

  it('names the bad entry and says what is wrong with it', () => {
    const cases: [string, string][] = [
      ['a:1,b', 'entry "b": has no port (write b:50051, say)'],
      ['a:0', 'entry "a:0": port "0" is not a number from 1 to 65535'],
      ['a:65536', 'entry "a:65536": port "65536" is not a number from 1 to 65535'],
      ['a:http', 'entry "a:http": port "http" is not a number from 1 to 65535'],
      ['a:', 'entry "a:": has no port'],
      [':50051', 'entry ":50051": has no host'],
      ['::1:50051', 'entry "::1:50051": an IPv6 address needs brackets: [::1]:50051'],
      ['[nope]:1', 'entry "[nope]:1": "nope" in brackets is not an IPv6 address'],
      ['bad host:1', 'entry "bad host:1": "bad host" is not a host name or an IP address'],
      ['-a.example:1', 'entry "-a.example:1": "-a.example" is not a host name or an IP address'],
      ['http://a:1', 'entry "http://a:1": the scheme "http:" is not taken here; write HOST:PORT or dns:///NAME:PORT'],
      ['unix:/run/sentinel.sock', 'entry "unix:/run/sentinel.sock": the scheme "unix:" is not taken here; write HOST:PORT or dns:///NAME:PORT'],
      ['dns:///sentinels.example', 'entry "dns:///sentinels.example": the name has no port (write sentinels.example:50051, say)'],
      ['dns://sentinels.example:1', 'entry "dns://sentinels.example:1": a dns: target with "//" is dns:///NAME:PORT'],
      ['dns://10.0.0.2:53/sentinels.example:1', `entry "dns://10.0.0.2:53/sentinels.example:1": a DNS server in the target ("10.0.0.2:53") is not taken: write dns:///sentinels.example:1, resolved by the system's resolver`],
      ['a:1,b:2,a:1', 'entry "a:1" is given twice'],
      [',', 'no address is given'],
    ];
    for (const [value, message] of cases) assert.equal(problem(value), message, value);
  });

  it('gives a dns: target the round_robin policy and leaves HOST:PORT to the default', () => {
    assert.ok(isDnsTarget('dns:///x:1') && !isDnsTarget('x:1'));
    const opts = targetChannelOptions('dns:///sentinels.example:50051');
    assert.deepEqual(JSON.parse(String(opts['grpc.service_config'])), { loadBalancingConfig: [{ round_robin: {} }] });
    assert.equal(opts['grpc.service_config_disable_resolution'], 1);
    assert.deepEqual(targetChannelOptions('sentinels.example:50051'), {});
  });
});
