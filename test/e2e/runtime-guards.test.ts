/*
 * e2e: safety that holds under redrive and odd starting points, against moto (no database users):
 * 10a. a redriven old execution after a newer run: LockLost at its first step that changes something; nothing of
 *      the newer run touched;
 * 10b. a redriven execution when nothing newer ran: it re-takes its own lock and finishes;
 * 10c. a named snapshot of another cluster: SnapshotNotFromSource before any lock;
 * 10d. an unencrypted source across regions: copied without a key (RDS refuses one), restored encrypted;
 * 10e. a stopped target: started, then replaced.
 *
 * Step Functions redrives an execution from the state that did not succeed, under the same execution ARN and with
 * the state it had there; the harness's `resume` does the same with the local runner.
 */
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  StopDBClusterCommand,
} from '@aws-sdk/client-rds';
import * as kms from 'aws-cdk-lib/aws-kms';
import { PipelineTag, ReplaceStrategy } from '../../src';
import type { E2EHarness } from './support/harness';
import { REDRIVE_STATE, seedCluster } from './support/harness';
import type { PipelineRun } from './support/run-pipeline';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, expectSucceeded, notifications, runAndStop, seedTarget, startScenario, startWorld, type World } from './support/world';
import { copySnapshotIdentifier } from '../../lambda-src/lib/naming';
import { statusChangeEvent } from '../support/status-change-event';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';
const LOCK = 'LOCK#staging-aurora';
const LAST = 'LAST#staging-aurora';

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true }); // the default unmanagedLogins DISABLE connects to the copy
});
afterAll(async () => {
  await world?.stop();
});

/** Delivers the ABORTED status change of a stopped run to the notification function, as the pipeline's rule does. */
async function settleAborted(h: E2EHarness, run: PipelineRun): Promise<Record<string, unknown>> {
  const inv = await h.invoke('SnsNotification', statusChangeEvent({
    executionArn: run.executionArn,
    stateMachineArn: h.machine.arn,
    name: run.executionName,
    status: 'ABORTED',
    startDate: run.events.find((e) => e.type === 'ExecutionStarted')!.timestamp,
    stopDate: run.events[run.events.length - 1].timestamp,
    account: h.resolver.account,
    region: h.resolver.region,
    id: `e2e-${run.executionName}-ABORTED`,
  }));
  if (inv.error) throw new Error(`sns-notification failed: ${inv.error.errorType}: ${inv.error.errorMessage}\n${inv.logs.join('\n')}`);
  return inv.result as Record<string, unknown>;
}

/** The state the execution had when it entered `stateName` the first time (the input of that task). */
function stateAt(run: PipelineRun, stateName: string): unknown {
  const inv = run.invocations.find((i) => i.stateName === stateName);
  if (!inv) throw new Error(`${run.executionName} never ran ${stateName}: ${run.path.join(' → ')}`);
  return inv.event;
}

/** Everything in the target region: clusters, instances and snapshots, with status and tags. */
async function targetRegion(h: E2EHarness) {
  const rds = h.rds(TARGET_REGION);
  const clusters = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
  const instances = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
  const snapshots = (await rds.send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? [];
  return {
    clusters: clusters.map((c) => ({
      id: c.DBClusterIdentifier, status: c.Status, tags: c.TagList, members: c.DBClusterMembers?.map((m) => m.DBInstanceIdentifier),
    })),
    instances: instances.map((i) => ({ id: i.DBInstanceIdentifier, status: i.DBInstanceStatus, tags: i.TagList })),
    snapshots: snapshots.filter((x) => x.SnapshotType === 'manual').map((x) => ({ id: x.DBClusterSnapshotIdentifier, status: x.Status })),
  };
}

const errorMessage = (run: PipelineRun) => JSON.parse(run.error!.Cause).errorMessage as string;

describe('runtime guards', () => {
  test('10a. a redriven old execution after a newer run: LockLost before any change; the newer run\'s target, instances and snapshots untouched', async () => {
    const s = await startScenario(world, pipelineStack({ replaceStrategy: ReplaceStrategy.DELETE_FIRST }).stack);
    const { h } = s;
    await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: h.config.pipelineId }] });

    // The old execution is stopped right after its SnapshotCheck (it had decided to replace the target), and settled.
    const old = await runAndStop(h, 'old', 'SnapshotCheck');
    expect(old.status).toBe('ABORTED');
    const oldState = old.invocations[0].result;
    expect(oldState).toMatchObject({ operationId: 'old', replaceTarget: true });
    expect(await settleAborted(h, old)).toMatchObject({ lockReleased: true });

    // A newer execution replaces the target.
    const newer = await h.run({}, { executionName: 'newer' });
    expectSucceeded(newer);
    const before = await targetRegion(h);
    expect(before.clusters.find((c) => c.id === 'staging-aurora')!.tags).toEqual(expect.arrayContaining([{ Key: PipelineTag.OPERATION_ID, Value: 'newer' }]));
    expect(await h.stateItem(LAST)).toMatchObject({ last_operation_id: 'newer', last_execution_arn: newer.executionArn });
    await notifications(h);

    // Then someone redrives the old execution: it resumes at DeleteRds with its old state.
    const redriven = await h.resume('old', 'DeleteRds', oldState);
    expect(redriven.executionArn).toBe(old.executionArn);
    expect(redriven.path).toEqual([REDRIVE_STATE, 'DeleteRds', 'NotifyFailure', 'Failed']);
    expect(redriven.error!.Error).toBe('LockLost');
    expect(errorMessage(redriven)).toBe(`This execution (${old.executionArn}) of operation old no longer holds the lock of target cluster staging-aurora: `
      + `it is free, and operation newer (execution ${newer.executionArn}) took it since, at ${(await h.stateItem(LAST))!.acquired_at}. `
      + 'Nothing was changed by this step. A redriven execution continues only while no other operation has run on the target since it lost the lock; start a new restore instead.');
    // LockLost is not retried: DeleteRds ran once.
    expect(redriven.invocations.filter((i) => i.stateName === 'DeleteRds')).toHaveLength(1);

    expect(await targetRegion(h)).toEqual(before);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem(LAST)).toMatchObject({ last_operation_id: 'newer' });
    expect(await h.stateItem('newer')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await h.stateItem('old')).toMatchObject({ status: 'FAILED', error_name: 'LockLost' });
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({ status: 'FAILED', operationId: 'old', error: { name: 'LockLost' } });
    expect(await s.leaks([old, newer, redriven])).toEqual([]);
  });

  test('10b. a redriven execution when nothing newer ran: it re-takes its own lock and finishes', async () => {
    const s = await startScenario(world, pipelineStack().stack);
    const { h } = s;
    await s.target!.hold('creating'); // keeps the stand-in's endpoint
    const first = await runAndStop(h, 'slow', 'CheckRestoreStatus');
    expect(first.status).toBe('ABORTED');
    expect(await settleAborted(h, first)).toMatchObject({ lockReleased: true });
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem('slow')).toMatchObject({ status: 'FAILED', error_name: 'ExecutionAborted' });
    await s.target!.release();

    let lockWhileRunning: Record<string, any> | undefined;
    const redriven = await h.resume('slow', 'CheckRestoreStatus', stateAt(first, 'CheckRestoreStatus'), {
      beforeTask: async (stateName) => {
        if (stateName === 'NotifySuccess') lockWhileRunning = await h.stateItem(LOCK);
      },
    });
    expectSucceeded(redriven);
    expect(lockWhileRunning).toMatchObject({ holder_operation_id: 'slow', holder_execution_arn: first.executionArn, retaken: true });
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem('slow')).toMatchObject({ status: 'SUCCEEDED' });
    const check = (await h.auditItems('slow')).filter((i) => i.step === 'CheckRestoreStatus').pop();
    expect(check).toMatchObject({ outcome: 'SUCCEEDED' });
    expect(await s.leaks([first, redriven])).toEqual([]);
  });

  test('10c. a named snapshot of another cluster: SnapshotNotFromSource before any lock; nothing written but the failure', async () => {
    const s = await startScenario(world, pipelineStack().stack);
    const { h } = s;
    await seedCluster(h, { region: h.config.sourceRegion, identifier: 'billing-aurora', snapshots: ['billing-aurora-snap'] });

    const run = await h.run({ snapshotIdentifier: 'billing-aurora-snap' }, { executionName: 'foreign' });
    expect(run.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
    expect(run.error!.Error).toBe('SnapshotNotFromSource');
    expect(errorMessage(run)).toBe('Snapshot billing-aurora-snap is a snapshot of cluster billing-aurora, not of the source cluster prod-aurora: '
      + 'the pipeline restores only its source\'s snapshots. Pass a snapshot of prod-aurora, or leave snapshotIdentifier out to restore its latest one.');
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem(LAST)).toBeUndefined();
    expect((await targetRegion(h)).clusters.map((c) => c.id).sort()).toEqual(['billing-aurora', 'prod-aurora']);
    expect(await auditTrail(h, 'foreign')).toEqual(['SnapshotCheck:FAILED', 'SnsNotification:SUCCEEDED']);
    expect((await notifications(h)).map((m) => [m.operationId, m.error?.name])).toEqual([['foreign', 'SnapshotNotFromSource']]);
  });

  test('10d. an unencrypted source across regions: copied without a KMS key, restored encrypted with the copy key', async () => {
    const { stack } = pipelineStack((scope) => ({
      sourceRegion: SOURCE_REGION,
      snapshotCopyKey: new kms.Key(scope, 'CopyKey', { description: 'DR copies', enableKeyRotation: true }),
      retainSnapshotCopy: true,
    }));
    const s = await startScenario(world, stack, { sourceEncrypted: false });
    const { h } = s;
    const run = await h.run({}, { executionName: 'plain-1' });
    expectSucceeded(run);
    const copy = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: copySnapshotIdentifier('staging-aurora', 'plain-1') }))).DBClusterSnapshots![0];
    expect(copy).toMatchObject({ StorageEncrypted: false });
    const restored = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(restored).toMatchObject({ StorageEncrypted: true, KmsKeyId: h.config.snapshotCopyKeyArn });
    expect(await s.leaks([run])).toEqual([]);
  });

  test('10e. a stopped target: started (RDS deletes no stopped cluster), then replaced', async () => {
    const s = await startScenario(world, pipelineStack({ replaceStrategy: ReplaceStrategy.DELETE_FIRST }).stack);
    const { h } = s;
    await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: h.config.pipelineId }] });
    await h.rds(TARGET_REGION).send(new StopDBClusterCommand({ DBClusterIdentifier: 'staging-aurora' }));

    const run = await h.run({}, { executionName: 'after-stop' });
    expectSucceeded(run);
    const deletes = run.invocations.filter((i) => i.stateName === 'DeleteRds').map((i) => (i.result as { status: string }).status);
    expect(deletes[0]).toBe('starting');
    // Once started, its instances and then the cluster are deleted (moto deletes instances at once: one check asks for both).
    expect(deletes.slice(1)).toContain('deleting');
    expect(deletes.at(-1)).toBe('deleted');
    const restored = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(restored.TagList).toEqual(expect.arrayContaining([{ Key: PipelineTag.OPERATION_ID, Value: 'after-stop' }]));
    expect(await s.leaks([run])).toEqual([]);
  });
});
