import { awsError } from './support/factories';
import { aws, isThrottling, mapAwsError, PipelineError } from '../../lambda-src/lib/errors';
import { PipelineErrorName } from '../../src/contracts';

describe('mapAwsError', () => {
  test.each([
    ['DBClusterSnapshotNotFoundFault', PipelineErrorName.SNAPSHOT_NOT_FOUND, /snapshot does not exist.*Check the snapshot identifier/],
    ['InvalidDBClusterStateFault', PipelineErrorName.RESOURCE_BUSY, /busy.*retried/],
    ['SnapshotQuotaExceeded', PipelineErrorName.SNAPSHOT_QUOTA_EXCEEDED, /5 cross-region copies/],
    ['SnapshotQuotaExceededFault', PipelineErrorName.SNAPSHOT_QUOTA_EXCEEDED, /Delete old manual snapshots/],
    ['KMSKeyNotAccessibleFault', PipelineErrorName.KMS_KEY_NOT_ACCESSIBLE, /key policy/],
    ['DBClusterAlreadyExistsFault', PipelineErrorName.TARGET_ALREADY_EXISTS, /replaceExistingTarget/],
    ['AccessDenied', PipelineErrorName.PERMISSION_DENIED, /deletes, modifies and tags only resources carrying its ownership tag \(aurora-restore-pipeline:pipeline\)/],
    ['AccessDeniedException', PipelineErrorName.PERMISSION_DENIED, /permissions boundary or SCP/],
  ])('%s → %s, saying what to do', (awsName, expected, message) => {
    const mapped = mapAwsError(awsError(awsName), 'Deleting instance staging-aurora-writer');
    expect(mapped).toBeInstanceOf(PipelineError);
    expect(mapped.name).toBe(expected);
    expect(mapped.message).toMatch(/^Deleting instance staging-aurora-writer: /);
    expect(mapped.message).toMatch(message);
  });

  test('a denied secret read is SecretInvalid', () => {
    expect(mapAwsError(awsError('AccessDeniedException'), 'Reading secret arn:x').name).toBe(PipelineErrorName.SECRET_INVALID);
  });

  test.each(['ThrottlingException', 'Throttling', 'TooManyRequestsException'])('%s passes through with its name, to be retried', (name) => {
    const err = awsError(name);
    expect(isThrottling(err)).toBe(true);
    expect(mapAwsError(err, 'x')).toBe(err);
  });

  test('server faults and network errors are transient', () => {
    expect(mapAwsError(awsError('InternalFailure', 'boom', 'server'), 'x').name).toBe(PipelineErrorName.AWS_SERVICE_UNAVAILABLE);
    expect(mapAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'x').name).toBe(PipelineErrorName.AWS_SERVICE_UNAVAILABLE);
  });

  test('an unknown client error passes through unchanged', () => {
    const err = awsError('InvalidParameterCombination');
    expect(mapAwsError(err, 'x')).toBe(err);
  });

  test('aws() maps what the call throws', async () => {
    await expect(aws('Copying', async () => { throw awsError('KMSKeyNotAccessibleFault'); })).rejects.toMatchObject({ name: 'KmsKeyNotAccessible' });
  });
});
