import {
  AddTagsToResourceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, DynamoDBDocumentClient, makeConfig, makeState, resetBetweenTests, secondsAgo, useConfig } from './support/factories';
import { handler } from '../../lambda-src/cutover';
import { handler as deleteRds } from '../../lambda-src/delete-rds';
import { temporaryClusterIdentifier } from '../../lambda-src/lib/naming';
import { settleTemporaryCluster } from '../../lambda-src/lib/temporary-cluster';
import { CutoverProgress, DeleteSubject, PipelineErrorName, PipelineTag } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
resetBetweenTests(rdsMock, ddbMock);

const TEMP = temporaryClusterIdentifier('staging-db', 'op-1');
const PREV = 'arp-prev-staging-db';
const OWN = { Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' };
const ours = (op: string, extra: Array<{ Key: string; Value: string }> = []) => [OWN, { Key: PipelineTag.OPERATION_ID, Value: op }, ...extra];

/** RDS as a map of identifier → cluster; DescribeDBClusters answers from it. */
function world(clusters: Record<string, Record<string, unknown>>) {
  rdsMock.on(DescribeDBClustersCommand).callsFake((input: { DBClusterIdentifier: string }) => {
    const c = clusters[input.DBClusterIdentifier];
    if (!c) throw awsError('DBClusterNotFoundFault');
    return { DBClusters: [{ DBClusterIdentifier: input.DBClusterIdentifier, DBClusterArn: `arn:${input.DBClusterIdentifier}`, Status: 'available', ...c }] };
  });
}

const midway = (): CutoverProgress => ({
  done: false,
  status: 'renaming',
  phase: 'renaming-target-away',
  attempt: 0,
  waitStartedAt: secondsAgo(60),
  nextWaitSeconds: 30,
  temporaryClusterIdentifier: TEMP,
  previousClusterIdentifier: PREV,
  renameRequestedAt: secondsAgo(90),
});

describe('cutover', () => {
  test('first call: tags the owned target as this operation\'s previous target, then renames it away; nothing else', async () => {
    world({ 'staging-db': { TagList: ours('op-0') }, [TEMP]: { TagList: ours('op-1') } });
    rdsMock.on(AddTagsToResourceCommand).resolves({});
    rdsMock.on(ModifyDBClusterCommand).resolves({});
    const out = await handler(makeState({ swap: true }));
    expect(out).toMatchObject({ done: false, phase: 'renaming-target-away', status: 'renaming', renameRequestedAt: expect.any(String) });
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)[0].args[0].input).toEqual({
      ResourceName: 'arn:staging-db', Tags: [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }],
    });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand).map((c) => c.args[0].input)).toEqual([
      { DBClusterIdentifier: 'staging-db', NewDBClusterIdentifier: PREV, ApplyImmediately: true },
    ]);
  });

  test.each([
    ['a target the pipeline does not own', { 'staging-db': { TagList: [] }, [TEMP]: { TagList: ours('op-1') } }, PipelineErrorName.TARGET_NOT_OWNED],
    ['an old previous target still in the way', { 'staging-db': { TagList: ours('op-0') }, [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-x') } }, PipelineErrorName.CUTOVER_FAILED],
    ['no temporary cluster', { 'staging-db': { TagList: ours('op-0') } }, PipelineErrorName.CUTOVER_FAILED],
    ['a stopped target', { 'staging-db': { TagList: ours('op-0'), Status: 'stopped' }, [TEMP]: { TagList: ours('op-1') } }, PipelineErrorName.CUTOVER_FAILED],
  ])('refuses before any change: %s', async (_what, clusters, name) => {
    world(clusters);
    await expect(handler(makeState({ swap: true }))).rejects.toMatchObject({ name, message: expect.stringMatching(/Nothing was renamed/) });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
  });

  test('refuses to rename the source cluster', async () => {
    useConfig({ sourceClusterIdentifier: 'staging-db', sourceRegion: makeConfig().targetRegion });
    await expect(handler(makeState({ swap: true }))).rejects.toMatchObject({ name: PipelineErrorName.SOURCE_CLUSTER_PROTECTED });
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('a busy target or temporary cluster: waits, renames nothing', async () => {
    world({ 'staging-db': { TagList: ours('op-0'), Status: 'modifying' }, [TEMP]: { TagList: ours('op-1') } });
    expect(await handler(makeState({ swap: true }))).toMatchObject({ done: false, status: 'modifying' });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });

  test('second rename: once the previous target is available under its new name, the new cluster gets the target\'s identifier (and deletion protection)', async () => {
    useConfig({ restore: { ...makeConfig().restore, deletionProtection: true } });
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } });
    rdsMock.on(ModifyDBClusterCommand).resolves({});
    const out = await handler(makeState({ swap: true, cutover: midway() }));
    expect(out).toMatchObject({ done: false, phase: 'renaming-new-cluster', attempt: 1 });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)[0].args[0].input).toEqual({
      DBClusterIdentifier: TEMP, NewDBClusterIdentifier: 'staging-db', ApplyImmediately: true, DeletionProtection: true,
    });
  });

  test('done: the target\'s identifier is this operation\'s cluster and available; the unavailable time counts from the first rename request', async () => {
    world({ 'staging-db': { TagList: ours('op-1'), Endpoint: 'staging-db.cluster-x' } });
    const out = await handler(makeState({ swap: true, cutover: midway() }));
    expect(out).toMatchObject({ done: true, phase: 'done', endpoint: 'staging-db.cluster-x' });
    expect(out.targetUnavailableSeconds).toBeGreaterThanOrEqual(89);
  });

  test('the second rename refused: the previous target is renamed back (rolled back), and CutoverFailed says so', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } });
    rdsMock.on(ModifyDBClusterCommand, { DBClusterIdentifier: TEMP }).rejects(awsError('InvalidParameterValue', 'the new identifier is not allowed'));
    rdsMock.on(ModifyDBClusterCommand, { DBClusterIdentifier: PREV }).resolves({});
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED,
      message: expect.stringContaining(`Rolled back: the previous target ${PREV} is being renamed back to staging-db`),
    });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand).map((c) => c.args[0].input)).toEqual([
      { DBClusterIdentifier: TEMP, NewDBClusterIdentifier: 'staging-db', ApplyImmediately: true },
      { DBClusterIdentifier: PREV, NewDBClusterIdentifier: 'staging-db', ApplyImmediately: true },
    ]);
  });

  test('the rollback refused too: CutoverFailed says where each cluster is and what to run', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } });
    rdsMock.on(ModifyDBClusterCommand).rejects(awsError('AccessDenied', 'not allowed'));
    const err = await handler(makeState({ swap: true, cutover: midway() })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: PipelineErrorName.CUTOVER_FAILED });
    expect((err as Error).message).toContain(`Now: no cluster is named staging-db; the previous target is ${PREV}; the new cluster is ${TEMP}.`);
    expect((err as Error).message).toContain(`aws rds modify-db-cluster --db-cluster-identifier ${PREV} --new-db-cluster-identifier staging-db --apply-immediately`);
  });

  test('a transient refusal of the second rename is retried by the state machine, not rolled back', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } });
    rdsMock.on(ModifyDBClusterCommand).rejects(awsError('InternalFailure', 'oops', 'server'));
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({ name: PipelineErrorName.AWS_SERVICE_UNAVAILABLE });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(1);
  });

  test('the temporary cluster gone halfway: CutoverFailed with the command that gives the identifier back', async () => {
    world({ [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED, message: expect.stringContaining(`--db-cluster-identifier ${PREV} --new-db-cluster-identifier staging-db`),
    });
  });
});

describe('settleTemporaryCluster (lib/temporary-cluster)', () => {
  const member = (id: string, tags = [OWN]) => ({ DBInstanceIdentifier: id, DBInstanceArn: `arn:db:${id}`, DBInstanceStatus: 'available', TagList: tags });

  test('deletes this operation\'s temporary cluster: its own instances, then the cluster without a final snapshot', async () => {
    world({ [TEMP]: { TagList: ours('op-1'), DBClusterMembers: [{ DBInstanceIdentifier: `${TEMP}-writer` }, { DBInstanceIdentifier: 'someone-else' }] }, 'staging-db': { TagList: ours('op-0') } });
    rdsMock.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => ({
      DBInstances: [input.DBInstanceIdentifier === 'someone-else' ? member('someone-else', []) : member(input.DBInstanceIdentifier)],
    }));
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    rdsMock.on(DeleteDBClusterCommand).resolves({});
    const out = await settleTemporaryCluster(makeConfig(), 'op-1');
    expect(out).toMatchObject({ identifier: TEMP, action: 'deleted' });
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand).map((c) => c.args[0].input)).toEqual([{ DBInstanceIdentifier: `${TEMP}-writer` }]);
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: TEMP, SkipFinalSnapshot: true });
  });

  test('retainFailedRestore: tagged, not deleted', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, 'staging-db': { TagList: ours('op-0') } });
    rdsMock.on(AddTagsToResourceCommand).resolves({});
    const out = await settleTemporaryCluster(makeConfig({ retainFailedRestore: true }), 'op-1');
    expect(out).toMatchObject({ action: 'retained' });
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)[0].args[0].input).toEqual({ ResourceName: `arn:${TEMP}`, Tags: [{ Key: PipelineTag.FAILED_RESTORE, Value: 'true' }] });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  test.each([
    ['another operation\'s cluster under the name', { [TEMP]: { TagList: ours('op-2') }, 'staging-db': { TagList: ours('op-0') } }, 'untouched'],
    ['no cluster named like the target (a cutover that could not be rolled back)', { [TEMP]: { TagList: ours('op-1') } }, 'untouched'],
    ['the previous target still renamed away by this operation', { [TEMP]: { TagList: ours('op-1') }, 'staging-db': { TagList: [] }, [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } }, 'untouched'],
    ['nothing under the name', { 'staging-db': { TagList: ours('op-0') } }, 'none'],
  ])('leaves alone: %s', async (_what, clusters, action) => {
    world(clusters);
    expect(await settleTemporaryCluster(makeConfig(), 'op-1')).toMatchObject({ action });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
  });
});

describe('delete-rds for a previous target', () => {
  test('retiring: refuses a cluster under the previous name that this swap did not rename away', async () => {
    world({ [PREV]: { TagList: ours('op-0') } });
    await expect(deleteRds({ state: makeState({ swap: true }), subject: DeleteSubject.PREVIOUS })).rejects.toMatchObject({
      name: PipelineErrorName.TARGET_NOT_OWNED, message: expect.stringContaining('is not a previous target'),
    });
    expect(rdsMock.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  test('assumeTargetOwned does not extend to a previous target: an untagged one is refused', async () => {
    useConfig({ assumeTargetOwned: true });
    world({ [PREV]: { TagList: [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }] } });
    await expect(deleteRds({ state: makeState({ swap: true }), subject: DeleteSubject.PREVIOUS }))
      .rejects.toMatchObject({ name: PipelineErrorName.TARGET_NOT_OWNED });
  });

  test('an unknown subject is InvalidInput', async () => {
    await expect(deleteRds({ state: makeState(), subject: 'SOURCE' as DeleteSubject })).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
  });

  test('nothing kept from an earlier swap: done at once, absent', async () => {
    world({});
    expect(await deleteRds({ state: makeState({ swap: true }), subject: DeleteSubject.KEPT_PREVIOUS })).toMatchObject({ done: true, status: 'absent', targetExisted: false });
  });
});
