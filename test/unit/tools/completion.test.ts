/**
 * `casparian completion bash|zsh`: the scripts are made from the commander
 * program, and a real bash completes with them (COMPREPLY after sourcing).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { buildProgram } from '../../../tools/cli/command-table';
import { completionScript } from '../../../tools/cli/completion';

const script = (shell: 'bash' | 'zsh'): string => completionScript(buildProgram({}, { code: 0 }), shell);
const hasShell = (shell: string): boolean => spawnSync(shell, ['-c', 'exit 0']).status === 0;

/** What bash offers for the words typed, the cursor on the last one. */
function bashComplete(words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${script('bash')}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _casparian; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('unit: shell completion', function () {
  this.timeout(20_000);

  it('bash: commands, subcommands, and only the command\'s own flags', function () {
    if (!hasShell('bash')) this.skip();
    assert.deepEqual(bashComplete(['casparian', 'su']), ['submit']);
    assert.deepEqual(bashComplete(['casparian', 'jobs', '--st']), ['--state']);
    assert.deepEqual(bashComplete(['casparian', 'job', 'c']), ['cancel']);
    assert.deepEqual(bashComplete(['casparian', 'job', 'cancel', 'x', '--rea']), ['--reason']);
    assert.deepEqual(bashComplete(['casparian', 'jobs', '--lock']), [], 'publish\'s --lockfile is no flag of jobs');
    assert.ok(bashComplete(['casparian', 'publish', '--l']).includes('--lockfile'));
    // a flag's value is not taken for a command: --plugin's value "jobs" leaves us in scan
    assert.deepEqual(bashComplete(['casparian', 'scan', '--plugin', 'jobs', '--gl']), ['--glob']);
    assert.ok(bashComplete(['casparian', 'sentinel', '--data']).includes('--data-dir'), 'settings flags are there too');
  });

  it('zsh: the script is generated and parses', function () {
    const text = script('zsh');
    assert.match(text, /^#compdef casparian\n/);
    assert.match(text, /'jobs'\) echo '[^']*--state/);
    if (!hasShell('zsh')) this.skip();
    const r = spawnSync('zsh', ['-n'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
