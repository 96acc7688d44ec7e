import {
  AddTagsToResourceCommand,
  DeleteDBClusterCommand,
  DeleteDBClusterSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  RDSClient,
  StartDBClusterCommand,
} from '@aws-sdk/client-rds';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { auditItems, awsError, DynamoDBDocumentClient, holdLock, makeState, resetBetweenTests, secondsAgo, SOURCE_REGION, useConfig } from './support/factories';
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
    // As the pipeline restores it: final snapshots carry the ownership tag.
    CopyTagsToSnapshot: true,
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
const instanceArn = (id: string) => `arn:aws:rds:eu-central-1:123456789012:db:${id}`;
/** RDS lists every member instance as the pipeline's and `deleting`. */
const instancesDeleting = () => rdsMock.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => ({
  DBInstances: [{
    DBInstanceIdentifier: input.DBInstanceIdentifier,
    DBInstanceArn: instanceArn(input.DBInstanceIdentifier),
    DBInstanceStatus: 'deleting',
    TagList: OWNED,
  }],
}));
beforeEach(() => {
  // By default every member instance is the pipeline's, and no snapshot has the final snapshot's name.
  rdsMock.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => ({
    DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceArn: instanceArn(input.DBInstanceIdentifier), DBClusterIdentifier: 'staging-db', TagList: OWNED }],
  }));
  rdsMock.on(DescribeDBClusterSnapshotsCommand).callsFake((input: { DBClusterSnapshotIdentifier?: string }) => {
    if (input.DBClusterSnapshotIdentifier) throw awsError('DBClusterSnapshotNotFoundFault');
    return { DBClusterSnapshots: [] };
  });
});

describe('delete-rds', () => {
  test('absent target: done at once, nothing existed', async () => {
    describes('absent');
    const out = await handler(makeState());
    expect(out).toMatchObject({ done: true, status: 'absent', targetExisted: false, attempt: 0 });
    expect(rdsMock.calls()).toHaveLength(1);
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'DeleteRds', outcome: 'SUCCEEDED' });
  });

  test('the whole loop: the cluster\'s delete is requested with its instances\', once RDS answers them `deleting`', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    const order: string[] = [];
    rdsMock.on(DeleteDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      order.push(`instance ${input.DBInstanceIdentifier}`);
      return { DBInstance: { DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceStatus: 'deleting' } };
    });
    rdsMock.on(DeleteDBClusterCommand).callsFake((input: { DBClusterIdentifier: string }) => {
      order.push(`cluster ${input.DBClusterIdentifier}`);
      return {};
    });
    describes(target(), target({ Status: 'deleting' }), 'absent');

    const first = await handler(makeState());
    expect(first).toMatchObject({
      done: false, status: 'deleting', attempt: 0, targetExisted: true, finalSnapshotIdentifier: FINAL_ID, phase: 'delete',
    });
    expect(order).toEqual(['instance staging-db-writer', 'instance staging-db-reader', 'cluster staging-db']);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)[0].args[0].input).toEqual({
      DBClusterIdentifier: 'staging-db', FinalDBSnapshotIdentifier: FINAL_ID, SkipFinalSnapshot: false,
    });

    // RDS deletes the instances, then the cluster: the checks meanwhile request nothing again.
    const second = await handler(makeState({ delete: first }));
    expect(second).toMatchObject({ done: false, status: 'deleting', attempt: 1, waitStartedAt: first.waitStartedAt, phase: 'delete' });
    expect(order).toHaveLength(3);

    const third = await handler(makeState({ delete: second }));
    expect(third).toMatchObject({ done: true, status: 'deleted', targetExisted: true, attempt: 2, finalSnapshotIdentifier: FINAL_ID });
    expect(auditItems(ddbMock).map((a) => a.outcome)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);
    // The one wait goes into the target's history, once, as the phase `delete`.
    const history = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item).filter((i) => String(i?.operation_id).startsWith('HISTORY#'));
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({
      operation_id: 'HISTORY#staging-db', phases: { delete: [{ operationId: 'op-1', seconds: expect.any(Number) }] },
    });
    expect(Object.keys(history[0]!.phases)).toEqual(['delete']);
  });

  test('RDS refuses the cluster\'s delete (an instance not yet `deleting` in its view): the next check requests it again', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    rdsMock.on(DeleteDBInstanceCommand).resolves({ DBInstance: { DBInstanceStatus: 'deleting' } });
    rdsMock.on(DeleteDBClusterCommand)
      .rejectsOnce(awsError('InvalidDBClusterStateFault', 'Cluster cannot be deleted, it still contains DB instances in non-deleting state.'))
      .resolves({});
    describes(target(), target());

    const first = await handler(makeState());
    expect(first).toMatchObject({ done: false, status: 'deleting-instances', phase: 'delete' });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(2);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(1);

    // RDS now lists both instances as deleting: the check asks only for the cluster, and the phase goes on.
    instancesDeleting();
    const second = await handler(makeState({ delete: first }));
    expect(second).toMatchObject({ done: false, status: 'deleting', phase: 'delete', phaseStartedAt: first.phaseStartedAt });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(2);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand).map((c) => c.args[0].input)).toEqual([
      { DBClusterIdentifier: 'staging-db', FinalDBSnapshotIdentifier: FINAL_ID, SkipFinalSnapshot: false },
      { DBClusterIdentifier: 'staging-db', FinalDBSnapshotIdentifier: FINAL_ID, SkipFinalSnapshot: false },
    ]);
  });

  test('an instance whose delete RDS did not confirm as `deleting`: the cluster waits for the next check', async () => {
    describes(target());
    rdsMock.on(DeleteDBInstanceCommand, { DBInstanceIdentifier: 'staging-db-writer' }).resolves({ DBInstance: { DBInstanceStatus: 'deleting' } });
    rdsMock.on(DeleteDBInstanceCommand, { DBInstanceIdentifier: 'staging-db-reader' })
      .rejects(awsError('InvalidDBInstanceStateFault', 'Instance is busy.'));
    expect(await handler(makeState())).toMatchObject({ done: false, status: 'deleting-instances', phase: 'delete' });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  test('history: the delete is one phase, expected from its own records, restarted by the first request, recorded once seen over', async () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5); // no jitter
    const history: Record<string, unknown>[] = [];
    const records = (seconds: number) => [{ operationId: 'op-0', seconds, at: '' }];
    // Records of an earlier version (the delete in two parts) are neither read nor extended.
    history.push({ phases: { delete: records(600), deleteInstances: records(30), deleteCluster: records(30) }, version: 1 });
    ddbMock.on(GetCommand, { Key: { operation_id: 'HISTORY#staging-db' } }).callsFake(() => ({ Item: history.at(-1) }));
    ddbMock.on(PutCommand).callsFake((input: { Item: Record<string, unknown> }) => {
      if (String(input.Item.operation_id).startsWith('HISTORY#')) history.push(input.Item);
      return {};
    });
    rdsMock.on(DeleteDBInstanceCommand).resolves({ DBInstance: { DBInstanceStatus: 'deleting' } });
    rdsMock.on(DeleteDBClusterCommand).resolves({});

    describes(target(), target({ Status: 'deleting' }), 'absent', 'absent');
    // The requests: the delete's 600 s are expected; the first wait approaches them.
    const first = await handler(makeState());
    expect(first).toMatchObject({ phase: 'delete', waitBasis: 'history', expectedSeconds: 600, expectedEarliestSeconds: 600 });
    expect(history).toHaveLength(1);

    // A check while RDS deletes keeps the phase and its expectation, and records nothing.
    const second = await handler(makeState({ delete: { ...first, attempt: 5 } }));
    expect(second).toMatchObject({ phase: 'delete', expectedSeconds: 600, attempt: 6, phaseStartedAt: first.phaseStartedAt });
    expect(history).toHaveLength(1);

    // Gone 620 s after the first request (the last open check 10 s ago): recorded as 615 s, once, however often retried.
    const over = { ...second, phaseStartedAt: secondsAgo(620), checkedAt: secondsAgo(10) };
    expect(await handler(makeState({ delete: over }))).toMatchObject({ done: true, phase: 'delete' });
    await handler(makeState({ delete: over }));
    expect(history).toHaveLength(2);
    expect(history[1]).toMatchObject({
      version: 2,
      phases: { delete: [{ operationId: 'op-0' }, { operationId: 'op-1', seconds: 615 }], deleteInstances: records(30), deleteCluster: records(30) },
    });
    random.mockRestore();
  });

  test('history: a wait begun by an earlier version (phase deleteInstances) starts the phase delete again, and records no part', async () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    describes(target({ DBClusterMembers: [] }), 'absent');
    const late = previous({ phase: 'deleteInstances', phaseStartedAt: secondsAgo(900), checkedAt: secondsAgo(90), rampStep: 6, waitBasis: 'backoff' });
    const out = await handler(makeState({ delete: late }));
    expect(out).toMatchObject({ phase: 'delete', waitBasis: 'backoff', rampStep: 0, nextWaitSeconds: 30 });
    expect(out.expectedSeconds).toBeUndefined();
    expect(Date.parse(out.phaseStartedAt!)).toBeGreaterThan(Date.parse(late.phaseStartedAt!));
    // Gone: recorded as the phase delete, from the cluster's request on; nothing under the old names.
    expect(await handler(makeState({ delete: out }))).toMatchObject({ done: true });
    const history = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input.Item).filter((i) => String(i?.operation_id).startsWith('HISTORY#'));
    expect(history.map((h) => Object.keys(h!.phases))).toEqual([['delete']]);
    random.mockRestore();
  });

  test('history: a delete seen over whose wait an earlier version began records nothing', async () => {
    describes('absent');
    const old = previous({ phase: 'deleteCluster', phaseStartedAt: secondsAgo(300), checkedAt: secondsAgo(30) });
    expect(await handler(makeState({ delete: old }))).toMatchObject({ done: true, status: 'deleted' });
    expect(ddbMock.commandCalls(PutCommand).filter((c) => String(c.args[0].input.Item?.operation_id).startsWith('HISTORY#'))).toHaveLength(0);
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
    // The writer's state is not known to be `deleting`: the cluster's delete waits for the next check.
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  test('instances RDS already lists as deleting: a check asks for none of them again, only for the cluster', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target());
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    instancesDeleting();
    expect(await handler(makeState({ delete: previous() }))).toMatchObject({ done: false, status: 'deleting', attempt: 2, phase: 'delete' });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand).map((c) => c.args[0].input)).toEqual([
      { DBClusterIdentifier: 'staging-db', FinalDBSnapshotIdentifier: FINAL_ID, SkipFinalSnapshot: false },
    ]);
  });

  test('instances already deleting and the final snapshot\'s name since taken by someone else: refused, the cluster is not deleted', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target());
    instancesDeleting();
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: FINAL_ID })
      .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: FINAL_ID, TagList: [{ Key: 'team', Value: 'dba' }] }] });
    await expect(handler(makeState({ delete: previous() }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
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
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
    expect(out).toMatchObject({ done: false, status: 'disabling-deletion-protection' });
  });

  test('a target that does not copy its tags to snapshots is told to first, so the final snapshot carries the ownership tag', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target({ CopyTagsToSnapshot: false }));
    rdsMock.on(ModifyDBClusterCommand).resolves({});
    const out = await handler(makeState());
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'staging-db', CopyTagsToSnapshot: true, ApplyImmediately: true });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
    expect(out).toMatchObject({ done: false, status: 'copying-tags-to-final-snapshot' });
  });

  test('without a final snapshot, whether the target copies its tags does not matter', async () => {
    useConfig({ finalSnapshotOnDelete: false });
    describes(target({ CopyTagsToSnapshot: false }));
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    expect(await handler(makeState())).toMatchObject({ done: false, status: 'deleting' });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'staging-db', SkipFinalSnapshot: true });
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
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    expect(await handler(makeState())).toMatchObject({ status: 'deleting' });
  });

  test('assumeTargetOwned allows deleting an untagged target', async () => {
    useConfig({ assumeTargetOwned: true });
    describes(target({ TagList: [], DBClusterMembers: [] }));
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    expect(await handler(makeState())).toMatchObject({ status: 'deleting' });
  });

  test('SourceClusterProtected: never deletes the source cluster', async () => {
    useConfig({ targetClusterIdentifier: 'prod-db', targetRegion: SOURCE_REGION, assumeTargetOwned: true });
    holdLock(ddbMock, undefined, undefined, 'prod-db');
    const err = await handler(makeState()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_CLUSTER_PROTECTED);
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('SourceClusterProtected whatever the case of the identifier (RDS identifiers are case-insensitive)', async () => {
    useConfig({ targetClusterIdentifier: 'PROD-DB', targetRegion: SOURCE_REGION, assumeTargetOwned: true });
    holdLock(ddbMock, undefined, undefined, 'PROD-DB');
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

  const destructive = () => [DeleteDBInstanceCommand, DeleteDBClusterCommand, ModifyDBClusterCommand, AddTagsToResourceCommand, StartDBClusterCommand]
    .flatMap((c) => rdsMock.commandCalls(c as any));

  test('a final snapshot name taken by a snapshot that is not this operation\'s: refused before any instance is deleted', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target());
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: FINAL_ID })
      .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: FINAL_ID, TagList: [{ Key: 'team', Value: 'dba' }] }] });
    const err = await handler(makeState()).catch((e: Error) => e) as Error;
    expect(err.name).toBe(PipelineErrorName.INVALID_INPUT);
    expect(err.message).toContain('Nothing was deleted');
    expect(destructive()).toEqual([]);
  });

  test('a final snapshot name already this operation\'s (a retry) does not stop the delete', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes(target());
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: FINAL_ID }).resolves({
      DBClusterSnapshots: [{
        DBClusterSnapshotIdentifier: FINAL_ID,
        TagList: [{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }, { Key: PipelineTag.FINAL_SNAPSHOT, Value: 'op-1' }],
      }],
    });
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    await expect(handler(makeState())).resolves.toMatchObject({ status: 'deleting' });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(1);
  });

  test('an instance someone else added (no pipeline tag): TargetNotOwned, nothing deleted', async () => {
    describes(target());
    rdsMock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'staging-db-reader' })
      .resolves({ DBInstances: [{ DBInstanceIdentifier: 'staging-db-reader', DBInstanceArn: instanceArn('staging-db-reader'), TagList: [{ Key: 'team', Value: 'bi' }] }] });
    const err = await handler(makeState()).catch((e: Error) => e) as Error;
    expect(err.name).toBe(PipelineErrorName.TARGET_NOT_OWNED);
    expect(err.message).toContain('its instance staging-db-reader does not carry the tag');
    expect(destructive()).toEqual([]);
  });

  test('deletion protection that may not be turned off is found before anything else changes', async () => {
    describes(target({ DeletionProtection: true, Status: 'stopped' }));
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.DELETION_PROTECTED });
    expect(destructive()).toEqual([]);
  });

  test('a stopped target is started (RDS deletes no stopped cluster), then waited for while it starts', async () => {
    rdsMock.on(StartDBClusterCommand).resolves({});
    describes(target({ Status: 'stopped' }), target({ Status: 'starting' }));
    const first = await handler(makeState());
    expect(first).toMatchObject({ done: false, status: 'starting', targetExisted: true });
    expect(rdsMock.commandCalls(StartDBClusterCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterIdentifier: 'staging-db' }]);
    const second = await handler(makeState({ delete: first }));
    expect(second).toMatchObject({ done: false, status: 'starting' });
    expect(rdsMock.commandCalls(StartDBClusterCommand)).toHaveLength(1);
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  test('assumeTargetOwned: the target and its instances are tagged as the pipeline\'s before anything is deleted', async () => {
    useConfig({ assumeTargetOwned: true });
    const untagged = [{ Key: 'team', Value: 'dba' }];
    describes(target({ TagList: untagged, DBClusterArn: 'arn:aws:rds:eu-central-1:123456789012:cluster:staging-db' }));
    rdsMock.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => ({
      DBInstances: [{ DBInstanceIdentifier: input.DBInstanceIdentifier, DBInstanceArn: instanceArn(input.DBInstanceIdentifier), TagList: untagged }],
    }));
    const order: string[] = [];
    rdsMock.on(AddTagsToResourceCommand).callsFake((input: { ResourceName: string }) => {
      order.push(`tag ${input.ResourceName.split(':').pop()}`);
      return {};
    });
    rdsMock.on(DeleteDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      order.push(`delete ${input.DBInstanceIdentifier}`);
      return {};
    });
    rdsMock.on(DeleteDBClusterCommand).callsFake((input: { DBClusterIdentifier: string }) => {
      order.push(`delete ${input.DBClusterIdentifier}`);
      return {};
    });
    await handler(makeState());
    expect(order).toEqual([
      'tag staging-db', 'tag staging-db-writer', 'tag staging-db-reader', 'delete staging-db-writer', 'delete staging-db-reader', 'delete staging-db',
    ]);
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)[0].args[0].input.Tags).toEqual([{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }]);
  });

  test('retention: once the target is gone, its final snapshot is tagged and only this pipeline\'s older final snapshots beyond 5 are deleted', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes('absent');
    const own = (op: string, day: number) => ({
      DBClusterSnapshotIdentifier: finalSnapshotIdentifier('staging-db', op),
      SnapshotCreateTime: new Date(Date.UTC(2026, 10, day)),
      Status: 'available',
      TagList: [{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }, { Key: PipelineTag.FINAL_SNAPSHOT, Value: op }],
    });
    // n1 and n0 were taken of previous targets a swap renamed away (arp-prev-<target>): they count too.
    const ofPrevious = [own('n1', 10), own('n0', 9)];
    const listed = [
      own('op-1', 22), own('n5', 21), own('n4', 20), own('n3', 19), own('n2', 18),
      // Never touched: a name that is not the final-snapshot name of the operation its tag names, another pipeline's, untagged.
      { ...own('n-1', 1), DBClusterSnapshotIdentifier: 'staging-db-manual-backup' },
      { ...own('x1', 2), TagList: [{ Key: PipelineTag.PIPELINE, Value: 'other' }, { Key: PipelineTag.FINAL_SNAPSHOT, Value: 'x1' }] },
      { ...own('x2', 3), TagList: [] },
    ];
    rdsMock.on(DescribeDBClusterSnapshotsCommand).callsFake((input: { DBClusterSnapshotIdentifier?: string }) => (input.DBClusterSnapshotIdentifier
      ? { DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: input.DBClusterSnapshotIdentifier, DBClusterSnapshotArn: 'arn:final-op-1' }] }
      : { DBClusterSnapshots: (input as { DBClusterIdentifier?: string }).DBClusterIdentifier === 'arp-prev-staging-db' ? ofPrevious : listed }));
    rdsMock.on(AddTagsToResourceCommand).resolves({});
    rdsMock.on(DeleteDBClusterSnapshotCommand).resolves({});
    const out = await handler(makeState({ delete: previous() }));
    expect(out).toMatchObject({ done: true, status: 'deleted', finalSnapshotIdentifier: FINAL_ID, finalSnapshotsDeleted: [finalSnapshotIdentifier('staging-db', 'n1'), finalSnapshotIdentifier('staging-db', 'n0')] });
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)[0].args[0].input).toEqual({
      ResourceName: 'arn:final-op-1', Tags: [{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }, { Key: PipelineTag.FINAL_SNAPSHOT, Value: 'op-1' }],
    });
    expect(rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand).map((c) => c.args[0].input).filter((i) => !i.DBClusterSnapshotIdentifier))
      .toEqual([{ DBClusterIdentifier: 'staging-db', SnapshotType: 'manual' }, { DBClusterIdentifier: 'arp-prev-staging-db', SnapshotType: 'manual' }]);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand).map((c) => c.args[0].input.DBClusterSnapshotIdentifier)).toEqual([finalSnapshotIdentifier('staging-db', 'n1'), finalSnapshotIdentifier('staging-db', 'n0')]);
  });

  test('retention that fails does not fail the delete: the target is gone, the restore goes on', async () => {
    useConfig({ finalSnapshotOnDelete: true });
    describes('absent');
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('AccessDenied'));
    await expect(handler(makeState({ delete: previous() }))).resolves.toMatchObject({ done: true, status: 'deleted' });
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
