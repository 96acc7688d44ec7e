/*
 * e2e: what the pipeline refuses to do, against moto, with the stack of example (a) (every default, no
 * database users):
 * 3. a target it does not own: FAILED with TargetNotOwned at the preflight, and again at deletion time if
 *    ownership changes after the preflight; the target untouched either way;
 * 4. a snapshot that does not exist: FAILED with SnapshotNotFound, notified, the lock released;
 * 5. a second execution for the same target while the first waits for its restore: rejected at once with
 *    RestoreAlreadyInProgress naming the holder; the first goes on to SUCCEEDED.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand, DescribeDBInstancesCommand, RemoveTagsFromResourceCommand } from '@aws-sdk/client-rds';
import { PipelineTag, ReplaceStrategy } from '../../src';
import type { E2EHarness } from './support/harness';
import type { PipelineRun } from './support/run-pipeline';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, expectSucceeded, notifications, seedTarget, startScenario, startWorld, type Scenario, type World } from './support/world';

jest.setTimeout(600_000);

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true }); // the default unmanagedLogins DISABLE connects to the copy
});
afterAll(async () => {
  await world?.stop();
});

async function scenario(props: Parameters<typeof pipelineStack>[0] = {}): Promise<Scenario> {
  return startScenario(world, pipelineStack(props).stack);
}

/** The target cluster and its instances as moto holds them, with their tags. */
async function targetAsIs(h: E2EHarness) {
  const rds = h.rds(TARGET_REGION);
  const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
  const target = clusters.find((c) => c.DBClusterIdentifier === 'staging-aurora');
  const instances = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
  const snapshots = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusterSnapshots ?? [];
  return {
    status: target?.Status,
    deletionProtection: target?.DeletionProtection,
    tags: target?.TagList,
    members: target?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier),
    instances: instances.map((i) => ({ id: i.DBInstanceIdentifier, cluster: i.DBClusterIdentifier, status: i.DBInstanceStatus, tags: i.TagList })),
    manualSnapshots: snapshots.filter((x) => x.SnapshotType === 'manual').map((x) => x.DBClusterSnapshotIdentifier),
  };
}

/** The failure as the Fail state, the state item, the notification and the lock report it. */
async function expectFailure(s: Scenario, run: PipelineRun, errorName: string, operationId: string): Promise<Record<string, any>> {
  const { h } = s;
  expect(run.status).toBe('FAILED');
  expect(run.error!.Error).toBe(errorName);
  const cause = JSON.parse(run.error!.Cause).errorMessage as string;
  expect(await h.stateItem(operationId)).toMatchObject({
    status: 'FAILED', error_name: errorName, error_message: cause, execution_arn: run.executionArn, finished_at: expect.any(String),
  });
  const [message, ...more] = await notifications(h);
  expect(more).toEqual([]);
  expect(message).toMatchObject({ status: 'FAILED', operationId, executionArn: run.executionArn, error: { name: errorName, cause } });
  return message;
}

describe('guards', () => {
  test('3a. a target the pipeline does not own: TargetNotOwned at the preflight, the target untouched', async () => {
    const s = await scenario();
    const { h } = s;
    await seedTarget(h, world, { tags: [{ Key: 'team', Value: 'dba' }, { Key: PipelineTag.PIPELINE, Value: 'some-other-pipeline' }], reader: true });
    const before = await targetAsIs(h);
    expect(before.members).toHaveLength(2);

    const run = await h.run({}, { executionName: 'refresh-foreign' });
    expect(run.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
    await expectFailure(s, run, 'TargetNotOwned', 'refresh-foreign');
    expect(run.error!.Cause).toContain(`tag ${PipelineTag.PIPELINE} is 'some-other-pipeline', expected '${h.config.pipelineId}'`);
    expect(run.error!.Cause).toContain('set assumeTargetOwned');

    expect(await targetAsIs(h)).toEqual(before);
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect(await auditTrail(h, 'refresh-foreign')).toEqual(['SnapshotCheck:FAILED', 'SnsNotification:SUCCEEDED']);
    expect(await s.leaks([run])).toEqual([]);
  });

  test('3b. ownership is checked again at deletion time: a tag removed after the preflight stops the delete', async () => {
    const s = await scenario({ replaceStrategy: ReplaceStrategy.DELETE_FIRST });
    const { h } = s;
    await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: h.config.pipelineId }, { Key: 'team', Value: 'dba' }] });
    const run = await h.run({}, {
      executionName: 'refresh-taken-over',
      beforeTask: async (state) => {
        // Someone claims the cluster between SnapshotCheck and DeleteRds.
        if (state !== 'DeleteRds') return;
        const arn = `arn:aws:rds:${TARGET_REGION}:123456789012:cluster:staging-aurora`;
        await h.rds(TARGET_REGION).send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: [PipelineTag.PIPELINE] }));
      },
    });
    expect(run.invocations[0].result).toMatchObject({ replaceTarget: true });
    expect(run.path).toEqual(['SnapshotCheck', 'DryRun?', 'CopyNeeded?', 'ReplaceTarget?', 'DeleteRds', 'NotifyFailure', 'Failed']);
    await expectFailure(s, run, 'TargetNotOwned', 'refresh-taken-over');
    expect(run.error!.Cause).toContain('Refusing to delete cluster staging-aurora');

    const after = await targetAsIs(h);
    expect(after).toMatchObject({ status: 'available', tags: [{ Key: 'team', Value: 'dba' }], members: ['staging-aurora-writer'], manualSnapshots: [] });
    expect(after.instances.map((i) => i.id)).toEqual(['staging-aurora-writer']);
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect(await s.leaks([run])).toEqual([]);
  });

  test('4. a snapshot that does not exist: SnapshotNotFound, a failure notification with its cause, the lock released', async () => {
    const s = await scenario();
    const { h } = s;
    const run = await h.run({ snapshotIdentifier: 'prod-aurora-no-such-snapshot', requestedBy: 'on-call' }, { executionName: 'restore-missing' });
    expect(run.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
    const message = await expectFailure(s, run, 'SnapshotNotFound', 'restore-missing');
    expect(message.error.cause).toBe('Snapshot prod-aurora-no-such-snapshot does not exist in region eu-west-1 (or is not shared with this account). '
      + 'Check the identifier and the region, or leave snapshotIdentifier out to restore the latest available snapshot of prod-aurora.');
    expect(message).toMatchObject({ requestedBy: 'on-call', snapshot: { requested: 'prod-aurora-no-such-snapshot' } });
    expect(message.target).toBeUndefined();

    // The lock was taken (the snapshot is looked up under it) and given back.
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect((await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier)).toEqual(['prod-aurora']);
    expect(await auditTrail(h, 'restore-missing')).toEqual(['SnapshotCheck:FAILED', 'SnsNotification:SUCCEEDED']);
    const audit = await h.auditItems('restore-missing');
    expect(audit[0]).toMatchObject({ requested_by: 'on-call', details: { errorName: 'SnapshotNotFound' } });

    // With the lock free, the next execution runs.
    const next = await h.run({}, { executionName: 'restore-latest' });
    expectSucceeded(next);
    expect(await s.leaks([run, next])).toEqual([]);
  });

  test('5. a second execution while the first waits for its restore: RestoreAlreadyInProgress at once, naming the holder; the first succeeds', async () => {
    const s = await scenario();
    const { h } = s;
    // The first execution's restore stays `creating` until the second has been turned away.
    await s.target!.hold('creating'); // keeps the stand-in's endpoint
    let firstIsWaiting!: () => void;
    const waiting = new Promise<void>((resolve) => {
      firstIsWaiting = resolve;
    });
    const firstRun = h.run({ requestedBy: 'nightly' }, {
      executionName: 'first',
      waitMs: 20,
      beforeTask: (state) => {
        if (state === 'CheckRestoreStatus') firstIsWaiting();
      },
    });
    await waiting;

    const second = await h.run({ requestedBy: 'someone' }, { executionName: 'second' });
    const lockDuringFirst = await h.stateItem('LOCK#staging-aurora');
    let firstSettled = false;
    void firstRun.then(() => {
      firstSettled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(firstSettled).toBe(false);
    await s.target!.release();
    const first = await firstRun;

    // The second: turned away by SnapshotCheck, nothing else ran.
    expect(second.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
    expect(second.error!.Error).toBe('RestoreAlreadyInProgress');
    const cause = JSON.parse(second.error!.Cause).errorMessage as string;
    expect(cause).toContain(`locked by operation first (execution ${first.executionArn})`);
    expect(lockDuringFirst).toMatchObject({ holder_operation_id: 'first', holder_execution_arn: first.executionArn });

    // The first: it kept checking while the second came and went, then succeeded.
    expectSucceeded(first);
    const checks = first.invocations.filter((i) => i.stateName === 'CheckRestoreStatus');
    const secondStart = second.invocations[0].startedAt;
    expect(checks.some((i) => i.startedAt < secondStart)).toBe(true);
    expect(checks.some((i) => i.startedAt > second.invocations[second.invocations.length - 1].startedAt)).toBe(true);

    expect(await h.stateItem('second')).toMatchObject({ status: 'FAILED', error_name: 'RestoreAlreadyInProgress', execution_arn: second.executionArn });
    expect(await h.stateItem('first')).toMatchObject({ status: 'SUCCEEDED', execution_arn: first.executionArn });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect((await notifications(h)).map((m) => [m.operationId, m.status, m.error?.name])).toEqual([
      ['second', 'FAILED', 'RestoreAlreadyInProgress'],
      ['first', 'SUCCEEDED', undefined],
    ]);
    expect(await s.leaks([first, second])).toEqual([]);
  });
});
