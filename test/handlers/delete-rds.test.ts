import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { auditItems, awsError, DynamoDBDocumentClient, makeState, resetBetweenTests, secondsAgo, SOURCE_REGION, useConfig } from './support/factories';
import { handler } from '../../lambda-src/delete-rds';
import { finalSnapshotIdentifier } from '../../lambda-src/lib/naming';
import { DeleteProgress, PipelineErrorName, PipelineTag } from '../../src/contracts';

const FINAL_ID = finalSnapshotIdentifier('staging-db', 'op-1');

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

const OWNED = [{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }, { Key: PipelineTag.OPERATION_ID, Value: 'op-0' }];
function target(overrides: Record<string, unknown> = {}) {
  return {
    DBClusterIdentifier: 'staging-db',
    Status: 'available',
    DeletionProtection: false,
    TagList: OWNED,
    DBClusterMembers: [{ DBInstanceIdentifier: 'staging-db-writer', IsClusterWriter: true }, { DBInstanceIdentifier: 'staging-db-reader', IsClusterWriter: false }],
    ...overrides,
  };
}
const describes = (...clusters: (Record<string, unknown> | 'absent')[]) => {
  let stub = rdsMock.on(DescribeDBClustersCommand);
  for (const c of clusters) {
    stub = c === 'absent' ? stub.rejectsOnce(awsError('DBClusterNotFoundFault')) : stub.resolvesOnce({ DBClusters: [c] });
  }
};
function previous(overrides: Partial<DeleteProgress> = {}): DeleteProgress {
  return { done: false, status: 'deleting', attempt: 1, waitStartedAt: secondsAgo(120), nextWaitSeconds: 45, targetExisted: true, ...overrides };
}

resetBetweenTests(rdsMock, ddbMock);

describe('delete-rds', () => {
  test('absent target: done at once, nothing existed', async () => {
    describes('absent');
    const out = await handler(makeState());
    expect(out).toMatchObject({ done: true, status: 'absent', targetExisted: false, attempt: 0 });
    expect(rdsMock.calls()).toHaveLength(1);
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'DeleteRds', outcome: 'SUCCEEDED' });
  });

  test('the whole loop: instances first, then the cluster, then done when RDS no longer finds it', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    describes(target(), target({ DBClusterMembers: [] }), target({ Status: 'deleting', DBClusterMembers: [] }), 'absent');

    const first = await handler(makeState());
    expect(first).toMatchObject({ done: false, status: 'deleting-instances', attempt: 0, targetExisted: true, finalSnapshotIdentifier: FINAL_ID });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand).map((c) => c.args[0].input.DBInstanceIdentifier)).toEqual(['staging-db-writer', 'staging-db-reader']);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);

    const second = await handler(makeState({ delete: first }));
    expect(second).toMatchObject({ done: false, status: 'deleting', attempt: 1, waitStartedAt: first.waitStartedAt });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)[0].args[0].input).toEqual({
      DBClusterIdentifier: 'staging-db', FinalDBSnapshotIdentifier: FINAL_ID, SkipFinalSnapshot: false,
    });

    const third = await handler(makeState({ delete: second }));
    expect(third).toMatchObject({ done: false, status: 'deleting', attempt: 2 });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(1); // not requested again

    const fourth = await handler(makeState({ delete: third }));
    expect(fourth).toMatchObject({ done: true, status: 'deleted', targetExisted: true, attempt: 3, finalSnapshotIdentifier: FINAL_ID });
    expect(auditItems(ddbMock).map((a) => a.outcome)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);
  });

  test('without a final snapshot the cluster is deleted with SkipFinalSnapshot', async () => {
    describes(target({ DBClusterMembers: [] }));
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    const out = await handler(makeState());
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'staging-db', SkipFinalSnapshot: true });
    expect(out.finalSnapshotIdentifier).toBeUndefined();
  });

  test('a second call while instances are already deleting converges (already-deleting faults are not errors)', async () => {
    describes(target());
    rdsMock.on(DeleteDBInstanceCommand, { DBInstanceIdentifier: 'staging-db-writer' }).rejects(awsError('InvalidDBInstanceStateFault', 'Instance is already being deleted.'));
    rdsMock.on(DeleteDBInstanceCommand, { DBInstanceIdentifier: 'staging-db-reader' }).rejects(awsError('DBInstanceNotFoundFault'));
    expect(await handler(makeState({ delete: previous() }))).toMatchObject({ done: false, status: 'deleting-instances', attempt: 2 });
  });

  test('a busy cluster is waited for, not failed', async () => {
    describes(target({ Status: 'modifying', DBClusterMembers: [] }));
    rdsMock.on(DeleteDBClusterCommand).rejects(awsError('InvalidDBClusterStateFault'));
    expect(await handler(makeState())).toMatchObject({ done: false, status: 'modifying' });
  });

  test('deletion protection is turned off first when allowed', async () => {
    useConfig({ allowDisableDeletionProtection: true });
    describes(target({ DeletionProtection: true }));
    rdsMock.on(ModifyDBClusterCommand).resolves({});
    const out = await handler(makeState());
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'staging-db', DeletionProtection: false, ApplyImmediately: true });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
    expect(out).toMatchObject({ done: false, status: 'disabling-deletion-protection' });
  });

  test('DeletionProtected when deletion protection is on and may not be turned off', async () => {
    describes(target({ DeletionProtection: true }));
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.DELETION_PROTECTED);
    expect(err.message).toContain('allowDisableDeletionProtection');
    expect(rdsMock.calls()).toHaveLength(1);
  });

  test('TargetNotOwned is re-checked at deletion time, whatever the preflight said', async () => {
    describes(target({ TagList: [{ Key: PipelineTag.PIPELINE, Value: 'someone-else' }] }));
    const err = await handler(makeState({ replaceTarget: true })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.TARGET_NOT_OWNED);
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  test('when the describe call carries no TagList, the tags are read with ListTagsForResource', async () => {
    const untagged = { ...target({ DBClusterArn: 'arn:aws:rds:eu-central-1:123456789012:cluster:staging-db' }), TagList: undefined };
    describes(untagged, untagged);
    rdsMock.on(ListTagsForResourceCommand, { ResourceName: 'arn:aws:rds:eu-central-1:123456789012:cluster:staging-db' })
      .resolvesOnce({ TagList: [{ Key: PipelineTag.PIPELINE, Value: 'someone-else' }] })
      .resolves({ TagList: OWNED });
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.TARGET_NOT_OWNED });
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    expect(await handler(makeState())).toMatchObject({ status: 'deleting-instances' });
  });

  test('assumeTargetOwned allows deleting an untagged target', async () => {
    useConfig({ assumeTargetOwned: true });
    describes(target({ TagList: [], DBClusterMembers: [] }));
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    expect(await handler(makeState())).toMatchObject({ status: 'deleting' });
  });

  test('SourceClusterProtected: never deletes the source cluster', async () => {
    useConfig({ targetClusterIdentifier: 'prod-db', targetRegion: SOURCE_REGION, assumeTargetOwned: true });
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_CLUSTER_PROTECTED);
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('SourceClusterProtected whatever the case of the identifier (RDS identifiers are case-insensitive)', async () => {
    useConfig({ targetClusterIdentifier: 'PROD-DB', targetRegion: SOURCE_REGION, assumeTargetOwned: true });
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_CLUSTER_PROTECTED);
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('InvalidInput when the final snapshot name is taken', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target({ DBClusterMembers: [] }));
    rdsMock.on(DeleteDBClusterCommand).rejects(awsError('DBClusterSnapshotAlreadyExistsFault'));
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.INVALID_INPUT);
    expect(err.message).toContain(FINAL_ID);
  });

  test('SnapshotQuotaExceeded when the final snapshot exceeds the quota', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target({ DBClusterMembers: [] }));
    rdsMock.on(DeleteDBClusterCommand).rejects(awsError('SnapshotQuotaExceeded'));
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.SNAPSHOT_QUOTA_EXCEEDED });
  });

  test('OperationTimedOut when the deletion runs past the budget', async () => {
    describes(target({ Status: 'deleting', DBClusterMembers: [] }));
    const err = await handler(makeState({ delete: previous({ waitStartedAt: secondsAgo(4000) }) })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.OPERATION_TIMED_OUT);
    expect(err.message).toContain('staging-db');
  });

  test('throttling passes through under its SDK name', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('ThrottlingException'));
    await expect(handler(makeState())).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
