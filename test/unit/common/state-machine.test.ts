import { strict as assert } from 'node:assert';
import { Logger } from '../../../services/common/logger';
import { IllegalStateError, StateMachine } from '../../../services/common/state-machine';

describe('unit: StateMachine', () => {
  type S = 'created' | 'running' | 'stopped';
  const table = { created: ['running', 'stopped'], running: ['stopped'], stopped: [] } as const;

  it('moves along the table and logs each transition', () => {
    const lines: string[] = [];
    const m = new StateMachine<S>('Thing', 'created', table, new Logger({ level: 'debug', format: 'json', write: (l) => lines.push(l) }));
    m.to('running');
    assert.equal(m.state, 'running');
    assert.ok(m.is('running', 'stopped'));
    m.to('stopped');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)).map((l) => [l.msg, l.from, l.to]),
      [
        ['Thing state', 'created', 'running'],
        ['Thing state', 'running', 'stopped'],
      ],
    );
  });

  it('refuses a move the table does not allow, naming the current state', () => {
    const m = new StateMachine<S>('Thing', 'created', table);
    m.to('stopped');
    assert.throws(
      () => m.to('running'),
      (e: unknown) => e instanceof IllegalStateError && e.state === 'stopped' && e.message === 'Thing cannot move to running in state stopped',
    );
    assert.equal(m.state, 'stopped');
  });

  it('require() guards an action', () => {
    const m = new StateMachine<S>('Thing', 'created', table);
    m.require('start', 'created');
    assert.throws(() => m.require('dispatch', 'running'), /Thing cannot dispatch in state created/);
  });
});
