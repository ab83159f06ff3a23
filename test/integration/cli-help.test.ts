/**
 * The CLI's help and flag checking as a user meets them (the compiled CLI
 * as a subprocess, no Sentinel): each command's --help lists its own flags
 * only, and a flag a command does not take is a usage error (exit 2) that
 * says what was meant.
 */
import { strict as assert } from 'node:assert';
import { runCli as cli, showCli as show } from '../helpers/cli-run';

describe('integration: casparian help and flag checking', function () {
  this.timeout(60_000);

  it('submit --help lists submit\'s flags and the client settings, not another command\'s', async () => {
    const r = await cli(['submit', '--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Usage: casparian submit NAME FILE\.\.\. \[options\]/);
    for (const flag of ['--priority <N>', '--not-before <TIME>', '--wait', '--json', '--sentinel <', '--timeout <N>']) assert.ok(r.stdout.includes(flag), `${flag} missing:\n${r.stdout}`);
    assert.match(r.stdout, /--priority <N>\s+higher first, default 0; negative as/);
    for (const flag of ['--lockfile', '--data-dir', '--slots', '--older-than']) assert.ok(!r.stdout.includes(flag), `${flag} listed:\n${r.stdout}`);
  });

  it('a service\'s help has its settings from the settings table; help COMMAND is COMMAND --help', async () => {
    const w = await cli(['help', 'worker']);
    assert.equal(w.code, 0, show(w));
    assert.match(w.stdout, /--slots <N>\s+Attempts a worker runs at once\.\s+Default:\s+CPU count\.\s+\[CASPARIAN_SLOTS\]/);
    assert.ok(!w.stdout.includes('--data-dir'), 'a Sentinel setting on the worker');
    const s = await cli(['sentinel', '--help']);
    assert.match(s.stdout, /--data-dir <DIR>/);
    assert.ok(!s.stdout.includes('--slots'), 'a worker setting on the Sentinel');
  });

  it('help lists every command, subcommands included', async () => {
    const r = await cli(['help']);
    assert.equal(r.code, 0, show(r));
    for (const c of ['start', 'publish', 'submit', 'jobs', 'job cancel', 'job retry', 'plugin pause', 'token create', 'db copy', 'config print', 'env gc', 'completion']) {
      assert.match(r.stdout, new RegExp(`^  casparian ${c} `, 'm'), c);
    }
    const bare = await cli([]);
    assert.equal(bare.code, 0, show(bare));
    assert.equal(bare.stdout, r.stdout);
  });

  const refused: [string, string[], RegExp][] = [
    ['a misspelt flag: did you mean', ['jobs', '--stat', 'failed'], /^error: unknown option '--stat'\n\(Did you mean --state\?\)/],
    ['another command\'s flag: where it belongs', ['jobs', '--lockfile', 'x'], /^error: unknown option '--lockfile'\n\(--lockfile is a flag of casparian publish\)/],
    ['a service flag on a client', ['submit', 'dv', 'x.csv', '--data-dir', 'd'], /unknown option '--data-dir'/],
    ['a subcommand\'s flag on its parent', ['job', 'x', '--reason', 'y'], /unknown option '--reason'\n\(--reason is a flag of casparian job cancel, casparian plugin pause\)/],
    ['a misspelt command', ['subimt'], /^error: unknown command 'subimt'\n\(Did you mean submit\?\)/],
    ['a setting of another service in config print', ['config', 'print', 'worker', '--port', '1'], /--port \(port\) is not a setting of the worker/],
  ];
  for (const [what, args, re] of refused) {
    it(`refused with exit 2: ${what}`, async () => {
      const r = await cli([...args, '--sentinel', '127.0.0.1:1'].filter((a, i, all) => !(args[0] === 'config' && (a === '--sentinel' || all[i - 1] === '--sentinel'))), { timeoutMs: 30_000 });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, re);
      assert.equal(r.stdout, '');
    });
  }

  it('repeated --sink and --priority=-5 still parse (the errors come from their own checks)', async () => {
    const sinks = await cli(['publish', 'p.py', '--lockfile', 'l.txt', '--sink', 'a=parquet:x', '--sink', 'nonsense', '--sentinel', '127.0.0.1:1']);
    assert.equal(sinks.code, 2, show(sinks));
    assert.match(sinks.stderr, /--sink "nonsense"/, 'the second --sink reached the command');
    const prio = await cli(['submit', 'dv', '/tmp/x.csv', '--priority=-5', '--not-before', 'soon', '--sentinel', '127.0.0.1:1']);
    assert.equal(prio.code, 2, show(prio));
    assert.match(prio.stderr, /--not-before wants/, '--priority=-5 was accepted, --not-before checked next');
  });
});
