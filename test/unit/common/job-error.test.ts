import { strict as assert } from 'node:assert';
import { ERROR_CLASSES, JobErrors, blameOf, classIsRetryable, countsTowardBreaker, jobError } from '../../../services/common/job-error';
import { errorClassFromPb, errorClassToPb, jobErrorFromPb, jobErrorToPb } from '../../../services/common/job-error-pb';
import { ErrorClass } from '../../../services/gen/casparian/v1/types';

describe('unit: job errors', () => {
  describe('the proto mapping', () => {
    const values = Object.values(ErrorClass).filter((v): v is ErrorClass => typeof v === 'number');

    it('maps every ErrorClass enum value by name, and back', () => {
      for (const v of values) {
        const name = ErrorClass[v];
        const domain = errorClassFromPb(v);
        if (v === ErrorClass.ERROR_CLASS_UNSPECIFIED || v === ErrorClass.UNRECOGNIZED) {
          assert.equal(domain, 'permanent', `${name} is treated as permanent`);
          continue;
        }
        assert.equal(`ERROR_CLASS_${domain.toUpperCase()}`, name);
        assert.equal(errorClassToPb(domain), v, `${name} round-trips`);
      }
    });

    it('gives every domain class an enum value', () => {
      for (const c of ERROR_CLASSES) assert.equal(errorClassFromPb(errorClassToPb(c)), c);
      assert.equal(new Set(ERROR_CLASSES.map(errorClassToPb)).size, ERROR_CLASSES.length);
    });

    it('treats a value from a newer peer as permanent', () => {
      assert.equal(errorClassFromPb(99 as ErrorClass), 'permanent');
    });

    it('round-trips a JobError, deriving retryable from the class on receipt', () => {
      const e = JobErrors.plugin('transient', 'ValueError: flaky', 'Traceback …');
      assert.deepEqual(jobErrorFromPb(jobErrorToPb(e)), e);
      const lying = { ...jobErrorToPb(JobErrors.plugin('permanent', 'bad')), retryable: true };
      assert.equal(jobErrorFromPb(lying)!.retryable, false);
      assert.equal(jobErrorFromPb(undefined), undefined);
    });
  });

  describe('factories', () => {
    it('derive retryable from the class', () => {
      for (const e of Object.values(JobErrors).map((make) => (make as (...a: unknown[]) => ReturnType<typeof JobErrors.internal>)('x', 1))) {
        assert.equal(e.retryable, classIsRetryable(e.errorClass), e.code);
      }
      assert.equal(JobErrors.timeout('start_to_close', 5).retryable, true);
      assert.equal(JobErrors.envMissing('x').retryable, false);
      assert.equal(JobErrors.signatureInvalid('x').retryable, false, 'a bad signature never retries');
      assert.equal(JobErrors.signatureRequired('x').errorClass, 'permanent');
    });

    it('name the timeout that fired', () => {
      assert.equal(JobErrors.timeout('idle', 300).message, 'idle timeout: no frame from the guest for 300 ms');
      assert.equal(JobErrors.timeout('start_to_close', 2000).message, 'start-to-close timeout: the job ran longer than 2000 ms');
      assert.equal(JobErrors.timeout('schedule_to_start', 1500, 'all capable workers are busy').message, 'schedule-to-start timeout (1500 ms): all capable workers are busy');
    });

    it('blame only the plugin for its own failures', () => {
      const plugin = [
        JobErrors.plugin('permanent', 'x'),
        JobErrors.plugin('transient', 'x'),
        JobErrors.resourceLimit('x'),
        JobErrors.guestCrashed('exit', 'x'),
        JobErrors.timeout('idle', 1),
        JobErrors.invalidOutput('x'),
        JobErrors.signatureRequired('x'),
        JobErrors.signatureInvalid('x'),
      ];
      for (const e of plugin) assert.equal(countsTowardBreaker(e), true, e.code);
      const others = [
        JobErrors.guestStartFailed('x'),
        JobErrors.guestProtocol('x'),
        JobErrors.envMissing('x'),
        JobErrors.envProvisionFailed('x'),
        JobErrors.envProvisionTimeout('x'),
        JobErrors.envUnavailable('x'),
        JobErrors.inputMissing('x'),
        JobErrors.cancelled('x'),
        JobErrors.workerLost('x'),
        JobErrors.internal('x'),
      ];
      for (const e of others) assert.equal(countsTowardBreaker(e), false, e.code);
      assert.equal(blameOf({ code: 'SOMETHING_NEW' }), 'worker', 'an unknown code never pauses a plugin');
    });

    it('keep a known code within its classes', () => {
      assert.equal(jobError('cancelled', 'PLUGIN_ERROR', 'x').errorClass, 'permanent');
      assert.equal(jobError('transient', 'PLUGIN_ERROR', 'x').errorClass, 'transient');
      assert.equal(jobError('env', 'NOT_A_CODE', 'x').errorClass, 'env');
    });
  });
});
