/**
 * The DataFrame returns the README advertises, end to end: one plugin returns
 * a pandas DataFrame, one a polars DataFrame; a real Sentinel and Worker run
 * them in the env their lockfile names (pyarrow, pandas and polars,
 * test/fixtures/lockfiles/dataframes.txt), and the values are fetched back.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { JobState } from '../../services/gen/casparian/v1/types';
import { Cluster } from '../helpers/cluster';
import { DATAFRAMES_LOCKFILE, dataframesPython } from '../helpers/python-env';
import { LINEAGE_COLUMNS } from '../helpers/data-fixtures';

const CSV = 'id,name,score\n1,ada,9.5\n2,grace,8.25\n3,linus,7\n';

/** Both drop row 2, so the pandas index has a gap that must not reach the output. */
const PLUGINS: Record<string, string> = {
  pandas_frame: `
import pandas as pd
def parse(path):
    df = pd.read_csv(path)
    df["double"] = df["score"] * 2
    return df[df["id"] != 2]
`,
  polars_frame: `
import polars as pl
def parse(path):
    df = pl.read_csv(path)
    return df.with_columns((pl.col("score") * 2).alias("double")).filter(pl.col("id") != 2)
`,
};

describe('e2e: plugins returning pandas and polars DataFrames', function () {
  this.timeout(600_000);
  let c: Cluster;

  before(async () => {
    await dataframesPython(); // provisions the env once per run (the worker then finds it)
    c = await Cluster.start({ workers: [{ slots: 2 }] });
    const lockfile = fs.readFileSync(DATAFRAMES_LOCKFILE, 'utf8');
    for (const [name, source] of Object.entries(PLUGINS)) await c.publish(name, source, { lockfile });
  });
  after(() => c?.stop());

  for (const plugin of Object.keys(PLUGINS)) {
    it(`${plugin}: the returned DataFrame is committed and fetched back with its values`, async () => {
      const job = await c.waitJob((await c.submit(plugin, c.input(`${plugin}.csv`, CSV))).id, 300_000);
      assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, JSON.stringify(job.error));
      const { info, ipc } = await c.client.fetchOutput(job.id);
      assert.equal(info?.rows, 2);
      const table = tableFromIPC(ipc);
      assert.deepEqual(table.schema.fields.map((f) => f.name), ['id', 'name', 'score', 'double', ...LINEAGE_COLUMNS], 'the columns, no index column, and the lineage');
      assert.deepEqual([...table.getChild('id')!.toArray()].map(Number), [1, 3]);
      assert.deepEqual([...table.getChild('name')!.toArray()], ['ada', 'linus']);
      assert.deepEqual([...table.getChild('score')!.toArray()], [9.5, 7]);
      assert.deepEqual([...table.getChild('double')!.toArray()], [19, 14]);
    });
  }
});
