/*
 * e2e 8: a wait loop that runs past its budget fails the execution with OperationTimedOut, saying what it
 * waited for, how long, the budget and what to do.
 *
 * The stack's waitBudget is 1 s and the operation is held (`creating`, `copying`) and never released, so
 * the loop can only end by running out of budget: the outcome does not depend on timing, only the number
 * of checks before it does (each Wait lasts 200 ms of real time instead of the 30 s the definition says;
 * the handler measures the budget in wall time from `waitStartedAt`). On the failure path the copy this
 * operation made is deleted (the notification reports it); a restore left `creating` is kept for inspection.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { Duration } from 'aws-cdk-lib';
import type { PipelineRun } from './support/run-pipeline';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, notifications, startScenario, startWorld, type Scenario, type World } from './support/world';
import { copySnapshotIdentifier } from '../../lambda-src/lib/naming';

jest.setTimeout(600_000);

const WAIT_MS = 200;

let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.stop();
});

/** The checks of a loop, each as [attempt, status, waitStartedAt], and the error that ended it. */
function loop(run: PipelineRun, check: string) {
  const calls = run.invocations.filter((i) => i.stateName === check);
  const last = calls[calls.length - 1];
  return {
    progress: calls.filter((i) => i.result).map((i) => i.result as { attempt: number; status: string; waitStartedAt: string }),
    error: last.error,
  };
}

/** Checks the failure everywhere it is recorded; returns the cause and the failure notification. */
async function expectTimedOut(s: Scenario, run: PipelineRun, operationId: string): Promise<{ cause: string; message: Record<string, any> }> {
  const { h } = s;
  expect(run.status).toBe('FAILED');
  expect(run.error!.Error).toBe('OperationTimedOut');
  const cause = JSON.parse(run.error!.Cause).errorMessage as string;
  expect(cause).toMatch(/^Waited \d+s for .+, over the budget of 1s \(last status '[a-z-]+', waiting since \d{4}-\d{2}-\d{2}T[\d:.]+Z\)\. /);
  expect(cause).toContain('raise the pipeline\'s waitBudget prop and start the restore again; if it is stuck, fix or delete it first.');
  expect(await h.stateItem(operationId)).toMatchObject({ status: 'FAILED', error_name: 'OperationTimedOut', error_message: cause });
  expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
  const [message, ...more] = await notifications(h);
  expect(more).toEqual([]);
  expect(message).toMatchObject({ status: 'FAILED', operationId, error: { name: 'OperationTimedOut', cause } });
  return { cause, message };
}

describe('wait budget', () => {
  test('8a. a restore that stays `creating` past the budget: OperationTimedOut naming the cluster; the cluster is left for inspection', async () => {
    const s = await startScenario(world, pipelineStack({ waitBudget: Duration.seconds(1) }).stack);
    const { h } = s;
    await h.moto.holdClusterStatus('staging-aurora', 'creating', { region: TARGET_REGION });
    const run = await h.run({}, { executionName: 'slow-restore', waitMs: WAIT_MS });

    const { cause, message } = await expectTimedOut(s, run, 'slow-restore');
    // Same region: no copy was made, so the failure path had none to clean up.
    expect(message.snapshotCopy).toBeUndefined();
    expect(cause).toMatch(/^Waited \d+s for the restore of cluster staging-aurora \(https:\/\/eu-west-1\.console\.aws\.amazon\.com\/rds\/home\?region=eu-west-1#database:id=staging-aurora;is-cluster=true\), over the budget of 1s \(last status 'creating'/);
    expect(run.path.slice(-3)).toEqual(['CheckRestoreStatus', 'NotifyFailure', 'Failed']);

    // Every check before the last reported progress: attempts counting up from one wait start.
    const { progress, error } = loop(run, 'CheckRestoreStatus');
    expect(error?.errorType).toBe('OperationTimedOut');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.map((p) => p.attempt)).toEqual(progress.map((_, i) => i + 1));
    expect(new Set(progress.map((p) => p.status))).toEqual(new Set(['creating']));
    const started = (run.invocations.find((i) => i.stateName === 'RestoreSnapshot')!.result as { waitStartedAt: string }).waitStartedAt;
    expect(new Set(progress.map((p) => p.waitStartedAt))).toEqual(new Set([started]));

    const trail = await auditTrail(h, 'slow-restore');
    expect(trail.slice(-2)).toEqual(['CheckRestoreStatus:FAILED', 'SnsNotification:SUCCEEDED']);
    const cluster = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(cluster.Status).toBe('creating');
    expect(await s.leaks([run])).toEqual([]);
  });

  test('8b. a cross-region copy that stays `copying` past the budget: OperationTimedOut naming the copy; the copy is deleted; nothing restored', async () => {
    const s = await startScenario(world, pipelineStack({ sourceRegion: 'us-east-1', waitBudget: Duration.seconds(1) }).stack);
    const { h } = s;
    const copyId = copySnapshotIdentifier('staging-aurora', 'slow-copy');
    await h.moto.holdSnapshotStatus(copyId, 'copying', 5, { region: TARGET_REGION });
    const run = await h.run({}, { executionName: 'slow-copy', waitMs: WAIT_MS });

    const { cause, message } = await expectTimedOut(s, run, 'slow-copy');
    expect(cause).toMatch(new RegExp(`^Waited \\d+s for the copy of prod-aurora-new to ${copyId} in eu-west-1, over the budget of 1s \\(last status 'copying'`));
    expect(run.path.slice(-3)).toEqual(['CheckCopyStatus', 'NotifyFailure', 'Failed']);
    expect(run.path).not.toContain('RestoreSnapshot');
    const { progress } = loop(run, 'CheckCopyStatus');
    expect(progress.map((p) => p.attempt)).toEqual(progress.map((_, i) => i + 1));

    // The failure path deleted the copy (RDS cancels a copy in flight) before notifying, and said so; the
    // source snapshot is untouched; no target was made.
    expect(message.snapshotCopy).toEqual({
      identifier: copyId,
      region: TARGET_REGION,
      action: 'deleted',
      status: 'copying',
      detail: `Deleted snapshot copy ${copyId} in ${TARGET_REGION} (it was 'copying': RDS cancels the copy).`,
    });
    const left = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? [];
    expect(left.map((x) => x.DBClusterSnapshotIdentifier)).not.toContain(copyId);
    const source = (await h.rds('us-east-1').send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'prod-aurora-new' }))).DBClusterSnapshots!;
    expect(source).toEqual([expect.objectContaining({ Status: 'available' })]);
    const notify = (await h.auditItems('slow-copy')).find((i) => i.step === 'SnsNotification');
    expect(notify?.details).toMatchObject({ snapshotCopyIdentifier: copyId, snapshotCopyAction: 'deleted' });
    expect((await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({}))).DBClusters).toEqual([]);
    expect(await s.leaks([run])).toEqual([]);
  });
});
