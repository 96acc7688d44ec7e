import { AddTagsToResourceCommand, DeleteDBClusterSnapshotCommand, DescribeDBClusterSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import {
  auditItems,
  awsError,
  captureLogs,
  COPY_ARN,
  COPY_ID,
  DynamoDBDocumentClient,
  makeCopyProgress,
  makeState,
  ownTags,
  useConfig,
  holdLock,
} from './support/factories';
import { handler } from '../../lambda-src/archive-snapshot';
import { PipelineErrorName, PipelineTag } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

const copyProgress = makeCopyProgress;
const copyExists = (tags = ownTags()) => rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
  .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'available', TagList: tags }] });

beforeEach(() => {
  rdsMock.reset();
  ddbMock.reset();
  ddbMock.onAnyCommand().resolves({});
  holdLock(ddbMock);
  rdsMock.on(DeleteDBClusterSnapshotCommand).resolves({});
  rdsMock.on(AddTagsToResourceCommand).resolves({});
  captureLogs();
  useConfig();
});
afterEach(() => jest.restoreAllMocks());

describe('archive-snapshot', () => {
  test('deletes this operation\'s copy', async () => {
    copyExists();
    expect(await handler(makeState({ copy: copyProgress() }))).toEqual({ action: 'deleted', snapshotIdentifier: COPY_ID });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)[0].args[0].input).toEqual({ DBClusterSnapshotIdentifier: COPY_ID });
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'ArchiveSnapshot', outcome: 'SUCCEEDED', details: { action: 'deleted' } });
  });

  test('retainSnapshotCopy keeps it and tags it retained', async () => {
    useConfig({ retainSnapshotCopy: true });
    copyExists();
    expect(await handler(makeState({ copy: copyProgress() }))).toEqual({ action: 'retained', snapshotIdentifier: COPY_ID });
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)[0].args[0].input).toEqual({ ResourceName: COPY_ARN, Tags: [{ Key: PipelineTag.RETAINED, Value: 'true' }] });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('no copy made: action none, RDS untouched', async () => {
    expect(await handler(makeState({ copyRequired: false }))).toEqual({ action: 'none' });
    expect(rdsMock.calls()).toHaveLength(0);
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'SKIPPED' });
  });

  test('a second call converges: the copy already gone is reported deleted', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    expect(await handler(makeState({ copy: copyProgress() }))).toEqual({ action: 'deleted', snapshotIdentifier: COPY_ID });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('a copy RDS is already deleting is reported deleted without a second delete', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
      .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'deleting', TagList: ownTags() }] });
    expect(await handler(makeState({ copy: copyProgress() }))).toEqual({ action: 'deleted', snapshotIdentifier: COPY_ID });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'SUCCEEDED', details: { action: 'deleted', note: 'already being deleted' } });
  });

  test('retainSnapshotCopy with the copy gone: action none, skipped, nothing tagged', async () => {
    useConfig({ retainSnapshotCopy: true });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    expect(await handler(makeState({ copy: copyProgress() }))).toEqual({ action: 'none', snapshotIdentifier: COPY_ID });
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'SKIPPED', details: { reason: 'copy not found' } });
  });

  test('SnapshotCopyFailed: a snapshot RDS describes under another name is left untouched', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
      .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: 'staging-db-op-10', DBClusterSnapshotArn: COPY_ARN, Status: 'available', TagList: ownTags() }] });
    await expect(handler(makeState({ copy: copyProgress() }))).rejects.toMatchObject({ name: PipelineErrorName.SNAPSHOT_COPY_FAILED });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('a copy deleted between the describe and the delete is deleted all the same', async () => {
    copyExists();
    rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    expect(await handler(makeState({ copy: copyProgress() }))).toMatchObject({ action: 'deleted' });
  });

  test.each([
    ['another operation', ownTags('op-0')],
    ['no tags', []],
  ])('SnapshotCopyFailed: a copy of %s is left untouched', async (_what, tags) => {
    copyExists(tags);
    const err = await handler(makeState({ copy: copyProgress() })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_COPY_FAILED);
    expect(err.message).toContain('left untouched');
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
  });

  test('SnapshotCopyFailed: never touches a snapshot that is not this operation\'s copy name (e.g. the source)', async () => {
    const state = makeState({ copy: copyProgress({ snapshotIdentifier: 'prod-db-2026-11-01' }) });
    await expect(handler(state)).rejects.toMatchObject({ name: PipelineErrorName.SNAPSHOT_COPY_FAILED });
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('a copy still busy is ResourceBusy (retried); throttling keeps its name', async () => {
    copyExists();
    rdsMock.on(DeleteDBClusterSnapshotCommand).rejectsOnce(awsError('InvalidDBClusterSnapshotStateFault')).rejectsOnce(awsError('ThrottlingException'));
    await expect(handler(makeState({ copy: copyProgress() }))).rejects.toMatchObject({
      name: PipelineErrorName.RESOURCE_BUSY, message: expect.stringMatching(new RegExp(`^Deleting snapshot copy ${COPY_ID} in eu-central-1 \\(status 'available'\\): `)),
    });
    await expect(handler(makeState({ copy: copyProgress() }))).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
