import { CopyDBClusterSnapshotCommand, DescribeDBClusterSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ACCOUNT,
  auditItems,
  awsError,
  COPY_ARN,
  COPY_ID,
  DynamoDBDocumentClient,
  makeState,
  ownTags,
  resetBetweenTests,
  SOURCE_SNAPSHOT_ARN,
  TARGET_REGION,
  makeSnapshotInfo,
} from './support/factories';
import { handler } from '../../lambda-src/copy-snapshot';
import { PipelineErrorName, PipelineTag } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

function copy(overrides: Record<string, unknown> = {}) {
  return { DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'copying', PercentProgress: 0, KmsKeyId: 'copy-key-id', TagList: ownTags(), ...overrides };
}
const noCopyYet = () => rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));

resetBetweenTests(rdsMock, ddbMock);

describe('copy-snapshot', () => {
  test('starts the copy with the copy key, the ownership tags and CopyTags, and starts the wait loop', async () => {
    noCopyYet();
    rdsMock.on(CopyDBClusterSnapshotCommand).resolves({ DBClusterSnapshot: copy({ Status: 'creating' }) });
    const before = Date.now();

    const out = await handler(makeState());

    const input = rdsMock.commandCalls(CopyDBClusterSnapshotCommand)[0].args[0].input;
    expect(input).toMatchObject({
      SourceDBClusterSnapshotIdentifier: SOURCE_SNAPSHOT_ARN,
      TargetDBClusterSnapshotIdentifier: COPY_ID,
      KmsKeyId: `arn:aws:kms:${TARGET_REGION}:${ACCOUNT}:key/copy-key`,
      CopyTags: true,
    });
    expect(input.Tags).toEqual(expect.arrayContaining([
      { Key: 'team', Value: 'data' },
      { Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' },
      { Key: PipelineTag.OPERATION_ID, Value: 'op-1' },
      { Key: PipelineTag.SOURCE_SNAPSHOT, Value: 'prod-db-2026-11-01' },
    ]));
    expect(out).toMatchObject({ done: false, status: 'creating', attempt: 0, nextWaitSeconds: 30, snapshotIdentifier: COPY_ID, snapshotArn: COPY_ARN, kmsKeyId: 'copy-key-id' });
    expect(Date.parse(out.waitStartedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(await (rdsMock.commandCalls(CopyDBClusterSnapshotCommand)[0].thisValue as RDSClient).config.region()).toBe(TARGET_REGION);
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'CopySnapshot', outcome: 'IN_PROGRESS', details: { snapshotIdentifier: COPY_ID } });
    expect(ddbMock.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues).toMatchObject({ ':step': 'CopySnapshot', ':arn': makeState().executionArn });
  });

  test('an unencrypted source snapshot is copied without KmsKeyId (RDS refuses one); the copy stays unencrypted', async () => {
    noCopyYet();
    rdsMock.on(CopyDBClusterSnapshotCommand).resolves({ DBClusterSnapshot: copy({ Status: 'creating', KmsKeyId: undefined }) });
    const out = await handler(makeState({ snapshot: makeSnapshotInfo({ storageEncrypted: false, kmsKeyId: undefined }) }));
    const input = rdsMock.commandCalls(CopyDBClusterSnapshotCommand)[0].args[0].input;
    expect(input).toEqual({
      SourceDBClusterSnapshotIdentifier: SOURCE_SNAPSHOT_ARN,
      TargetDBClusterSnapshotIdentifier: COPY_ID,
      CopyTags: true,
      Tags: expect.any(Array),
    });
    expect(out.kmsKeyId).toBe('');
  });

  test('a second call adopts this operation\'s copy instead of copying again', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [copy({ Status: 'copying', PercentProgress: 40 })] });
    const out = await handler(makeState());
    expect(rdsMock.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(0);
    expect(out).toMatchObject({ done: false, status: 'copying', percentProgress: 40, snapshotIdentifier: COPY_ID });
  });

  test('an adopted copy that is already available is done', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [copy({ Status: 'available', PercentProgress: 100 })] });
    expect(await handler(makeState())).toMatchObject({ done: true, status: 'available' });
  });

  test('a race lost to DBClusterSnapshotAlreadyExistsFault adopts the copy when it is ours', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand)
      .rejectsOnce(awsError('DBClusterSnapshotNotFoundFault'))
      .resolves({ DBClusterSnapshots: [copy()] });
    rdsMock.on(CopyDBClusterSnapshotCommand).rejects(awsError('DBClusterSnapshotAlreadyExistsFault'));
    expect(await handler(makeState())).toMatchObject({ done: false, snapshotIdentifier: COPY_ID });
  });

  test.each([
    ['another operation', ownTags('op-0')],
    ['another snapshot', ownTags('op-1', 'prod-db-2025-01-01')],
    ['no tags', []],
  ])('SnapshotCopyFailed: a copy of that name from %s is never adopted', async (_what, tags) => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [copy({ TagList: tags })] });
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_COPY_FAILED);
    expect(err.message).toContain('left untouched');
    expect(rdsMock.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('SnapshotCopyFailed: our copy already failed', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [copy({ Status: 'failed' })] });
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.SNAPSHOT_COPY_FAILED });
  });

  test.each([
    ['KMSKeyNotAccessibleFault', PipelineErrorName.KMS_KEY_NOT_ACCESSIBLE],
    ['SnapshotQuotaExceeded', PipelineErrorName.SNAPSHOT_QUOTA_EXCEEDED],
    ['SnapshotQuotaExceededFault', PipelineErrorName.SNAPSHOT_QUOTA_EXCEEDED],
    ['DBClusterSnapshotNotFoundFault', PipelineErrorName.SNAPSHOT_NOT_FOUND],
    ['InvalidDBClusterSnapshotStateFault', PipelineErrorName.RESOURCE_BUSY],
    ['ThrottlingException', 'ThrottlingException'],
    ['Throttling', 'Throttling'],
  ])('%s from CopyDBClusterSnapshot surfaces as %s', async (fault, expected) => {
    noCopyYet();
    rdsMock.on(CopyDBClusterSnapshotCommand).rejects(awsError(fault));
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(expected);
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'FAILED', details: { errorName: expected } });
  });

  test('InvalidInput when the operation needs no copy', async () => {
    await expect(handler(makeState({ copyRequired: false }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
    expect(rdsMock.calls()).toHaveLength(0);
  });
});
