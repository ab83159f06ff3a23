import { strict as assert } from 'node:assert';
import { GetJobResponse, ListJobsRequest } from '../../../services/gen/casparian/v1/sentinel';
import { JobState } from '../../../services/gen/casparian/v1/types';
import { jsonToBytes, messageDesc, toProtoJson } from '../../../services/common/proto-json';

describe('proto-json (canonical proto3 JSON)', () => {
  it('prints enum names, int64 as strings, camelCase, RFC 3339 times, and leaves defaults out', () => {
    const res = GetJobResponse.fromPartial({
      job: { id: 'j1', pluginName: 'p', state: JobState.JOB_STATE_SUCCEEDED, attempt: 1, outputs: [{ name: 'default', rows: 3, sizeBytes: 1024 }], createdAt: new Date('2026-11-30T10:00:00.5Z') },
    });
    const json = toProtoJson('casparian.v1.GetJobResponse', GetJobResponse, res) as { job: Record<string, unknown> };
    assert.equal(json.job.state, 'JOB_STATE_SUCCEEDED');
    assert.equal(json.job.pluginName, 'p');
    assert.deepEqual(json.job.outputs, [{ name: 'default', rows: '3', sizeBytes: '1024' }]);
    assert.equal(json.job.createdAt, '2026-11-30T10:00:00.500Z');
    assert.equal('workerId' in json.job, false, 'an empty string field is left out');
  });

  it('reads names or numbers and either field spelling; refuses unknown fields and bad enum names', () => {
    const desc = messageDesc('casparian.v1.ListJobsRequest');
    const a = ListJobsRequest.decode(jsonToBytes(desc, { state: 'JOB_STATE_FAILED', plugin_name: 'x', pageSize: 5 }));
    assert.deepEqual([a.state, a.pluginName, a.pageSize], [JobState.JOB_STATE_FAILED, 'x', 5]);
    assert.equal(ListJobsRequest.decode(jsonToBytes(desc, { state: 4 })).state, 4);
    assert.throws(() => jsonToBytes(desc, { stat: 'JOB_STATE_FAILED' }), /stat/);
    assert.throws(() => jsonToBytes(desc, { state: 'FAILED' }), /FAILED/);
  });
});
