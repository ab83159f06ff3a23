import { strict as assert } from 'node:assert';
import { checkRoutes, parseSinkSpec, resolveTarget, routesFor, SinkRouteError, type SinkRoute } from '../../../services/sentinel/sinks/routes';

describe('unit: sink routes', () => {
  it('parses OUTPUT=KIND:TARGET[?mode=M], the mode defaulting to append', () => {
    assert.deepEqual(parseSinkSpec('rows=sqlite:out.db'), { output: 'rows', kind: 'sqlite', target: 'out.db', mode: 'append' });
    assert.deepEqual(parseSinkSpec('*=parquet:/data/sets:v2?mode=replace'), { output: '*', kind: 'parquet', target: '/data/sets:v2', mode: 'replace' });
    assert.throws(() => parseSinkSpec('rows'), SinkRouteError);
    assert.throws(() => parseSinkSpec('=parquet:x'), /expected OUTPUT=KIND:TARGET/);
  });

  it('confines targets: relative ones under sinks/, absolute ones inside a --sink-root', () => {
    const r = (target: string): SinkRoute => ({ output: 'rows', kind: 'parquet', target, mode: 'append' });
    assert.equal(checkRoutes([r('/srv/lake/rows')], ['/srv/lake']).length, 1);
    assert.throws(() => checkRoutes([r('/srv/lakehouse')], ['/srv/lake']), /--sink-root/);
    assert.throws(() => checkRoutes([r('../x')], []), /may not leave the sinks directory/);
    assert.throws(() => checkRoutes([r('a'), r('a')], []), /listed twice/);
    assert.equal(resolveTarget(r('a/b'), '/var/cf'), '/var/cf/sinks/a/b');
    assert.equal(resolveTarget(r('/srv/lake/x'), '/var/cf'), '/srv/lake/x');
  });

  it('routes an output by name or by *', () => {
    const routes: SinkRoute[] = [
      { output: 'rows', kind: 'sqlite', target: 'a.db', mode: 'append' },
      { output: '*', kind: 'parquet', target: 'ds', mode: 'append' },
    ];
    assert.deepEqual(routesFor(routes, 'rows').map((x) => x.kind), ['sqlite', 'parquet']);
    assert.deepEqual(routesFor(routes, 'rows_quarantine').map((x) => x.kind), ['parquet']);
  });
});
