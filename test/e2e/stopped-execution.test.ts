/*
 * e2e 9: an execution stopped by hand (ABORTED) or past the state machine's timeout (TIMED_OUT) never reaches
 * NotifyFailure. Its status change, as EventBridge delivers it through the pipeline's rule, goes to the bundled
 * sns-notification function (run like Lambda runs an asynchronous invocation, with that function's environment),
 * which releases the lock, records the operation as failed, settles the snapshot copy and notifies; the next run
 * for the same target then succeeds at once.
 *
 * The run is stopped through the runner's `signal` right after a check of a held copy (`copying`) or restore
 * (`creating`), so it is stopped mid-operation whatever the timing. TIMED_OUT is delivered for a stopped run:
 * the handler cannot tell the two apart except by the status the event carries.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { findSecretLeaks, type E2EHarness } from './support/harness';
import type { FunctionInvocation, PipelineRun } from './support/run-pipeline';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { ReplaceStrategy } from '../../src';
import { auditTrail, expectSucceeded, notifications, runAndStop, startScenario, startWorld, type Scenario, type World } from './support/world';
import { copySnapshotIdentifier } from '../../lambda-src/lib/naming';
import { statusChangeEvent } from '../support/status-change-event';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';
const LOCK = 'LOCK#staging-aurora';

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true }); // the default unmanagedLogins DISABLE connects to the copy
});
afterAll(async () => {
  await world?.stop();
});

/** The status change EventBridge sends for an execution of this state machine. */
function statusChange(h: E2EHarness, run: PipelineRun, status: 'ABORTED' | 'TIMED_OUT') {
  return statusChangeEvent({
    executionArn: run.executionArn,
    stateMachineArn: h.machine.arn,
    name: run.executionName,
    status,
    startDate: run.events.find((e) => e.type === 'ExecutionStarted')!.timestamp,
    stopDate: run.events[run.events.length - 1].timestamp,
    account: h.resolver.account,
    region: h.resolver.region,
    id: `e2e-${run.executionName}-${status}`,
  });
}

/** Whether an EventBridge pattern (lists of values, nested objects) matches an event. */
function matches(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, want]) => (Array.isArray(want)
    ? want.includes(event[key])
    : !!event[key] && typeof event[key] === 'object' && matches(want as Record<string, unknown>, event[key] as Record<string, unknown>)));
}

/** Delivers the event through the rule: it must match the deployed rule's pattern, and the rule must target the function. */
async function deliver(h: E2EHarness, event: Record<string, unknown>): Promise<FunctionInvocation> {
  const rules = Object.values(h.template.Resources).filter((r) => r.Type === 'AWS::Events::Rule');
  expect(rules).toHaveLength(1);
  const pattern = h.resolver.resolve<Record<string, unknown>>(rules[0].Properties!.EventPattern);
  expect(matches(pattern, event)).toBe(true);
  const target = h.resolver.resolve<Array<{ Arn: string }>>(rules[0].Properties!.Targets)[0].Arn;
  const fn = h.functions.find((f) => f.arn === target)!;
  expect(fn.logicalId).toMatch(/HandlersSnsNotification[0-9A-F]{8}$/);
  const inv = await h.invoke('SnsNotification', event);
  if (inv.error) throw new Error(`sns-notification failed: ${inv.error.errorType}: ${inv.error.errorMessage}\n${inv.logs.join('\n')}`);
  return inv;
}

function invocationTexts(invocations: FunctionInvocation[]): Record<string, string> {
  return Object.fromEntries(invocations.flatMap((inv, i) => [
    [`invocation ${i} event`, JSON.stringify(inv.event)], [`invocation ${i} result`, JSON.stringify(inv.result ?? null)],
    [`invocation ${i} error`, JSON.stringify(inv.error ?? null)], [`invocation ${i} logs`, inv.logs.join('\n')],
  ]));
}

async function snapshotIds(h: E2EHarness, region: string): Promise<string[]> {
  return ((await h.rds(region).send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? []).map((x) => x.DBClusterSnapshotIdentifier!);
}

describe('stopped and timed-out executions', () => {
  test('9a. stopped while its cross-region copy is `copying`: lock released, FAILED/ExecutionAborted, copy deleted, notified; a repeat changes nothing; the next run succeeds', async () => {
    const s: Scenario = await startScenario(world, pipelineStack({ sourceRegion: SOURCE_REGION }).stack);
    const { h } = s;
    const copyId = copySnapshotIdentifier('staging-aurora', 'stopped-1');
    await h.moto.holdSnapshotStatus(copyId, 'copying', 40, { region: TARGET_REGION });

    const run = await runAndStop(h, 'stopped-1', 'CheckCopyStatus');
    expect(run.status).toBe('ABORTED');
    expect(run.path[run.path.length - 1]).toBe('CheckCopyStatus');
    expect(run.path).not.toContain('NotifyFailure');
    // What a stopped execution leaves: its lock, a RUNNING state item, a copy in flight, and no notification.
    expect(await h.stateItem(LOCK)).toMatchObject({ holder_operation_id: 'stopped-1', holder_execution_arn: run.executionArn });
    expect(await h.stateItem('stopped-1')).toMatchObject({ status: 'RUNNING' });
    expect(await snapshotIds(h, TARGET_REGION)).toContain(copyId);
    expect(await notifications(h)).toEqual([]);

    const first = await deliver(h, statusChange(h, run, 'ABORTED'));
    expect(first.result).toMatchObject({ status: 'ABORTED', operationId: 'stopped-1', lockReleased: true, snapshotCopy: { identifier: copyId, action: 'deleted', status: 'copying' } });

    expect(await h.stateItem(LOCK)).toBeUndefined();
    const state = await h.stateItem('stopped-1');
    expect(state).toMatchObject({ status: 'FAILED', error_name: 'ExecutionAborted', execution_arn: run.executionArn, requested_by: 'nightly', step: 'CheckCopyStatus' });
    expect(state!.error_message).toMatch(/^Execution stopped-1 was stopped \(ABORTED\) at .+ during CheckCopyStatus, so it never reached its failure notification\. /);
    expect(state!.error_message).toContain(`Deleted snapshot copy ${copyId} in ${TARGET_REGION} (it was 'copying': RDS cancels the copy).`);
    expect(await snapshotIds(h, TARGET_REGION)).not.toContain(copyId);
    expect(await snapshotIds(h, SOURCE_REGION)).toEqual(expect.arrayContaining(['prod-aurora-old', 'prod-aurora-new']));
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({
      status: 'ABORTED',
      operationId: 'stopped-1',
      executionArn: run.executionArn,
      consoleLink: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${run.executionArn}`,
      snapshot: { identifier: 'prod-aurora-new' },
      snapshotCopy: { identifier: copyId, region: TARGET_REGION, action: 'deleted' },
      error: { name: 'ExecutionAborted', cause: state!.error_message },
    });
    const trail = await auditTrail(h, 'stopped-1');
    expect(trail[0]).toBe('SnapshotCheck:SUCCEEDED');
    expect(trail[trail.length - 1]).toBe('SnsNotification:SUCCEEDED');
    const settledAudit = (await h.auditItems('stopped-1')).find((i) => i.step === 'SnsNotification');
    expect(settledAudit?.details).toMatchObject({ status: 'ABORTED', lockReleased: true, errorName: 'ExecutionAborted', snapshotCopyAction: 'deleted' });

    // EventBridge delivers at least once: the same event again changes nothing and sends nothing.
    const items = await h.stateItems();
    const again = await deliver(h, statusChange(h, run, 'ABORTED'));
    expect(again.result).toMatchObject({ lockReleased: false, skipped: expect.stringContaining('already settled') });
    expect(await h.stateItems()).toEqual(items);
    expect(await notifications(h)).toEqual([]);
    expect((await auditTrail(h, 'stopped-1')).slice(-2)).toEqual(['SnsNotification:SUCCEEDED', 'SnsNotification:SKIPPED']);

    // The nightly refresh is not lost: the next run takes the lock at once and succeeds.
    const next = await h.run({}, { executionName: 'next-1' });
    expectSucceeded(next);
    expect(await h.stateItem('next-1')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await findSecretLeaks(h, [run, next], await s.secrets(), invocationTexts([first, again]))).toEqual([]);
  });

  test('9b. timed out while its restore is `creating`: FAILED/ExecutionTimedOut, the cluster kept; a newer run\'s lock is never touched; the next run replaces the owned target', async () => {
    const s: Scenario = await startScenario(world, pipelineStack({ replaceStrategy: ReplaceStrategy.DELETE_FIRST }).stack);
    const { h } = s;
    await s.target!.hold('creating'); // keeps the stand-in's endpoint

    const run = await runAndStop(h, 'slow-1', 'CheckRestoreStatus');
    expect(run.status).toBe('ABORTED');
    expect(await h.stateItem(LOCK)).toMatchObject({ holder_execution_arn: run.executionArn });

    const settled = await deliver(h, statusChange(h, run, 'TIMED_OUT'));
    expect(settled.result).toMatchObject({ status: 'TIMED_OUT', operationId: 'slow-1', lockReleased: true });
    expect((settled.result as { snapshotCopy?: unknown }).snapshotCopy).toBeUndefined();
    expect(await h.stateItem(LOCK)).toBeUndefined();
    const state = await h.stateItem('slow-1');
    expect(state).toMatchObject({ status: 'FAILED', error_name: 'ExecutionTimedOut' });
    expect(state!.error_message).toMatch(/^Execution slow-1 ran past the pipeline's timeout of 288000s \(TIMED_OUT\) at .+ during CheckRestoreStatus/);
    expect(state!.error_message).toContain('A cluster being restored or deleted is NOT deleted');
    // A restore in progress is left as it is.
    const cluster = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(cluster.Status).toBe('creating');
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({ status: 'TIMED_OUT', operationId: 'slow-1', error: { name: 'ExecutionTimedOut' } });

    // The next run replaces the target the stopped one left (it carries the ownership tag), once RDS is done with it.
    await s.target!.release();
    let lateResult: unknown;
    const next = await h.run({}, {
      executionName: 'next-2',
      // Meanwhile a late copy of the old event arrives while next-2 holds the lock: nothing of next-2's is touched.
      afterTask: async (inv) => {
        if (inv.stateName !== 'DeleteRds' || inv.attempt !== 0) return;
        const late = await h.invoke('SnsNotification', statusChange(h, run, 'TIMED_OUT'));
        lateResult = late.result;
      },
    });
    expectSucceeded(next);
    expect(lateResult).toMatchObject({ lockReleased: false, skipped: expect.stringContaining('held by operation next-2') });
    expect(next.path).toContain('DeleteRds');
    expect(await h.stateItem('next-2')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await h.stateItem('slow-1')).toMatchObject({ status: 'FAILED', error_name: 'ExecutionTimedOut' });
    const restored = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(restored.TagList).toEqual(expect.arrayContaining([{ Key: 'aurora-restore-pipeline:operation-id', Value: 'next-2' }]));
    // The late event found slow-1 already settled: no second notification, only next-2's success.
    expect(lateResult).toMatchObject({ skipped: expect.stringContaining('It was already settled.') });
    expect((await notifications(h)).map((m) => [m.status, m.operationId])).toEqual([['SUCCEEDED', 'next-2']]);
    expect(await findSecretLeaks(h, [run, next], await s.secrets(), invocationTexts([settled]))).toEqual([]);
  });
});
