import {
  AddTagsToResourceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
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

  test('history: each rename is expected from its own records, restarts the waits when requested, and is recorded once seen over', async () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5); // no jitter
    const records = (seconds: number) => [{ operationId: 'op-0', seconds, at: '' }];
    const history: Record<string, unknown>[] = [{ phases: { renameTargetAway: records(120), renameNewCluster: records(80) }, version: 1 }];
    ddbMock.on(GetCommand, { Key: { operation_id: 'HISTORY#staging-db' } }).callsFake(() => ({ Item: history.at(-1) }));
    ddbMock.on(PutCommand).callsFake((input: { Item: Record<string, unknown> }) => {
      if (String(input.Item.operation_id).startsWith('HISTORY#')) history.push(input.Item);
      return {};
    });
    rdsMock.on(AddTagsToResourceCommand).resolves({});
    rdsMock.on(ModifyDBClusterCommand).resolves({});

    // The first rename's request: its 120 s are expected (the first wait: half of 120 s less half a pollInterval of 30 s).
    world({ 'staging-db': { TagList: ours('op-0') }, [TEMP]: { TagList: ours('op-1') } });
    const first = await handler(makeState({ swap: true }));
    expect(first).toMatchObject({ phase: 'renaming-target-away', waitBasis: 'history', expectedSeconds: 120, nextWaitSeconds: 53 });

    // 70 s later (the last open check 10 s ago) the previous target is available under its new name: the rename away is
    // recorded as 65 s, and the second rename's request starts the waits again from its own 80 s.
    const prevTags = ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]);
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: prevTags } });
    const awayOver = { ...first, attempt: 2, phaseStartedAt: secondsAgo(70), checkedAt: secondsAgo(10), waitBasis: 'backoff', rampStep: 1 };
    const second = await handler(makeState({ swap: true, cutover: awayOver }));
    expect(second).toMatchObject({ phase: 'renaming-new-cluster', waitBasis: 'history', expectedSeconds: 80, nextWaitSeconds: 33 });
    expect(second.rampStep).toBeUndefined();
    expect(history).toHaveLength(2);
    expect(history[1]).toMatchObject({ phases: { renameTargetAway: [{ operationId: 'op-0' }, { operationId: 'op-1', seconds: 65 }], renameNewCluster: records(80) } });

    // Done 90 s after the second request (the last open check 20 s ago): recorded as 80 s, once.
    world({ 'staging-db': { TagList: ours('op-1') }, [PREV]: { TagList: prevTags } });
    const newOver = { ...second, phaseStartedAt: secondsAgo(90), checkedAt: secondsAgo(20) };
    expect(await handler(makeState({ swap: true, cutover: newOver }))).toMatchObject({ done: true, phase: 'done' });
    await handler(makeState({ swap: true, cutover: newOver }));
    expect(history).toHaveLength(3);
    expect(history[2]).toMatchObject({ phases: { renameNewCluster: [{ operationId: 'op-0' }, { operationId: 'op-1', seconds: 80 }] } });
    random.mockRestore();
  });

  test('a busy new cluster at the second rename: nothing recorded, the waits not started again', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' }]) } });
    rdsMock.on(ModifyDBClusterCommand).rejects(awsError('InvalidDBClusterStateFault'));
    const before = { ...midway(), phaseStartedAt: secondsAgo(60), checkedAt: secondsAgo(10), rampStep: 2, waitBasis: 'backoff' };
    const out = await handler(makeState({ swap: true, cutover: before }));
    expect(out).toMatchObject({ phase: 'renaming-new-cluster', rampStep: 3, phaseStartedAt: before.phaseStartedAt });
    expect(ddbMock.commandCalls(PutCommand).filter((c) => String(c.args[0].input.Item?.operation_id).startsWith('HISTORY#'))).toHaveLength(0);
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

describe('cutover: what each check describes, and the guards that still run', () => {
  const AWAY = { Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-1' };
  const described = () => rdsMock.commandCalls(DescribeDBClustersCommand).map((c) => c.args[0].input.DBClusterIdentifier);
  const changes = () => rdsMock.commandCalls(ModifyDBClusterCommand).length + rdsMock.commandCalls(AddTagsToResourceCommand).length;
  const halfway = /stopped halfway: this operation renamed the previous target away/;
  beforeEach(() => {
    rdsMock.on(AddTagsToResourceCommand).resolves({});
    rdsMock.on(ModifyDBClusterCommand).resolves({});
  });

  test('first check: the target, the previous name and the temporary cluster, each once; then the tag and the rename', async () => {
    world({ 'staging-db': { TagList: ours('op-0') }, [TEMP]: { TagList: ours('op-1') } });
    await handler(makeState({ swap: true }));
    expect(described()).toEqual(['staging-db', PREV, TEMP]);
    expect(changes()).toBe(2);
  });

  test('renaming away (this operation\'s tag, not available): one describe, nothing changed', async () => {
    world({ 'staging-db': { TagList: ours('op-0', [AWAY]), Status: 'renaming' }, [TEMP]: { TagList: ours('op-1') } });
    expect(await handler(makeState({ swap: true, cutover: midway() }))).toMatchObject({ done: false, phase: 'renaming-target-away', status: 'renaming' });
    expect(described()).toEqual(['staging-db']);
    expect(changes()).toBe(0);
  });

  test.each([
    ['another operation\'s previous-target tag', ours('op-0', [{ Key: PipelineTag.PREVIOUS_TARGET, Value: 'op-0' }]), 'modifying'],
    ['this operation\'s tag, available (RDS gave the rename up)', ours('op-0', [AWAY]), 'available'],
  ])('not the short path: %s gets the full checks', async (_what, tags, status) => {
    world({ 'staging-db': { TagList: tags, Status: status }, [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-x') } });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED, message: expect.stringContaining(`${PREV} already exists`),
    });
    expect(described()).toEqual(['staging-db', PREV, TEMP]);
    expect(changes()).toBe(0);
  });

  test('a stopped target with this operation\'s tag still gets the stopped error', async () => {
    world({ 'staging-db': { TagList: ours('op-0', [AWAY]), Status: 'stopped' }, [TEMP]: { TagList: ours('op-1') } });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED, message: expect.stringContaining('the target is stopped'),
    });
    expect(changes()).toBe(0);
  });

  test('the target back to available under its identifier but no longer owned: TargetNotOwned before any retry', async () => {
    world({ 'staging-db': { TagList: [AWAY] }, [TEMP]: { TagList: ours('op-1') } });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({ name: PipelineErrorName.TARGET_NOT_OWNED });
    expect(changes()).toBe(0);
  });

  test.each([
    ['available', 'available'],
    ['still being created', 'creating'],
  ])('halfway: a cluster this operation did not make under the target\'s identifier (%s) is refused', async (_what, status) => {
    world({
      'staging-db': { TagList: ours('op-9'), Status: status },
      [TEMP]: { TagList: ours('op-1') },
      [PREV]: { TagList: ours('op-0', [AWAY]) },
    });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED, message: expect.stringMatching(halfway),
    });
    expect(described()).toEqual(['staging-db', PREV]);
    expect(changes()).toBe(0);
  });

  test('identifier free, the previous target still renaming: the temporary cluster is not described', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [AWAY]), Status: 'renaming' } });
    expect(await handler(makeState({ swap: true, cutover: midway() }))).toMatchObject({ done: false, phase: 'renaming-target-away', status: 'renaming' });
    expect(described()).toEqual(['staging-db', PREV]);
    expect(changes()).toBe(0);
  });

  test('the temporary cluster gone during the rename away: reported once the previous target is available, before any change', async () => {
    world({ 'staging-db': { TagList: ours('op-0', [AWAY]), Status: 'renaming' } });
    expect(await handler(makeState({ swap: true, cutover: midway() }))).toMatchObject({ done: false, phase: 'renaming-target-away' });
    world({ [PREV]: { TagList: ours('op-0', [AWAY]), Status: 'renaming' } });
    expect(await handler(makeState({ swap: true, cutover: midway() }))).toMatchObject({ done: false, phase: 'renaming-target-away' });
    world({ [PREV]: { TagList: ours('op-0', [AWAY]) } });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED, message: expect.stringContaining(`the temporary cluster ${TEMP} is gone`),
    });
    expect(changes()).toBe(0);
  });

  test.each([
    ['available', 'available'],
    ['renaming', 'renaming'],
  ])('identifier free, a foreign cluster under the previous name (%s): refused, nothing renamed', async (_what, status) => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0'), Status: status } });
    await expect(handler(makeState({ swap: true, cutover: midway() }))).rejects.toMatchObject({
      name: PipelineErrorName.CUTOVER_FAILED, message: expect.stringContaining(`${PREV} exists and is not the target this operation renamed away`),
    });
    expect(changes()).toBe(0);
  });

  test('identifier free, the previous target available: both described once, then the second rename', async () => {
    world({ [TEMP]: { TagList: ours('op-1') }, [PREV]: { TagList: ours('op-0', [AWAY]) } });
    await handler(makeState({ swap: true, cutover: midway() }));
    expect(described()).toEqual(['staging-db', PREV, TEMP]);
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(1);
  });

  test('the new cluster renaming under its identifier: the target, the previous name and the temporary cluster', async () => {
    world({ [TEMP]: { TagList: ours('op-1'), Status: 'renaming' }, [PREV]: { TagList: ours('op-0', [AWAY]) } });
    expect(await handler(makeState({ swap: true, cutover: midway() }))).toMatchObject({ done: false, phase: 'renaming-new-cluster', status: 'renaming' });
    expect(described()).toEqual(['staging-db', PREV, TEMP]);
    expect(changes()).toBe(0);
  });

  test.each([
    ['renaming', false],
    ['available', true],
  ])('the new cluster under the target\'s identifier (%s): one describe', async (status, done) => {
    world({ 'staging-db': { TagList: ours('op-1'), Status: status } });
    expect(await handler(makeState({ swap: true, cutover: midway() }))).toMatchObject({ done });
    expect(described()).toEqual(['staging-db']);
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
