/*
 * e2e: ReplaceStrategy.SWAP (the default) over an existing target, run by aws-local-stepfunctions with the bundled
 * handlers against moto (with its rename fixes) and a real PostgreSQL standing in for the clusters.
 *
 * 11a. over an owned target: restored beside it, the target's identifier serves the old cluster until the cutover
 *      and the new one after; the previous target deleted with a final snapshot; the unavailable time recorded.
 *      A second swap after it works (the target's writer is then named arp-tmp-…-writer).
 * 11b. PreviousTargetRetention.KEEP: the previous target stays renamed and tagged; the next swap deletes it (with a
 *      final snapshot) before its own cutover.
 * 11c. the restore fails: the target untouched (identifier, endpoint, tags, instances), the temporary cluster deleted.
 * 11d. between the two renames a cluster nobody expected takes the target's identifier: CutoverFailed says where each
 *      cluster is; the temporary cluster is kept.
 * 11e. a redriven old execution during a newer swap: LockLost, nothing changed.
 * 11f. validation fails: the target untouched, the temporary cluster deleted, ValidationFailed notified.
 */
import { CreateDBClusterCommand, DescribeDBClustersCommand, DescribeDBClusterSnapshotsCommand, DescribeDBInstancesCommand, type Tag } from '@aws-sdk/client-rds';
import type { E2EHarness } from './support/harness';
import { APP_DATABASE, MASTER_USERNAME } from './support/local-cluster';
import type { PipelineRun } from './support/run-pipeline';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, expectSucceeded, notifications, runAndStop, seedTarget, startScenario, startWorld, type Scenario, type World } from './support/world';
import { finalSnapshotIdentifier, temporaryClusterIdentifier, temporaryWriterIdentifier } from '../../lambda-src/lib/naming';
import { PipelineTag, PreviousTargetRetention, type AuroraRestorePipelineProps } from '../../src';
import { statusChangeEvent } from '../support/status-change-event';

jest.setTimeout(600_000);

const TARGET = 'staging-aurora';
const PREVIOUS = 'arp-prev-staging-aurora';

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true }); // the default unmanagedLogins DISABLE connects to the copy
});
afterAll(async () => {
  await world?.stop();
});

async function scenario(props: Partial<AuroraRestorePipelineProps> = {}): Promise<Scenario> {
  const s = await startScenario(world, pipelineStack(props).stack);
  await seedTarget(s.h, world, {
    tags: [{ Key: PipelineTag.PIPELINE, Value: s.h.config.pipelineId }, { Key: PipelineTag.OPERATION_ID, Value: 'last-week' }, { Key: 'team', Value: 'dba' }],
  });
  return s;
}

const tagMap = (tags: Tag[] | undefined) => Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));

/** Every cluster of the target region with what identifies it, its tags and its instances. */
async function clusters(h: E2EHarness) {
  const rds = h.rds(TARGET_REGION);
  const all = (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
  const instances = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
  return Object.fromEntries(all.map((c) => [c.DBClusterIdentifier!, {
    arn: c.DBClusterArn,
    resourceId: c.DbClusterResourceId,
    endpoint: c.Endpoint,
    status: c.Status,
    tags: tagMap(c.TagList),
    members: (c.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier).sort(),
    instances: instances.filter((i) => i.DBClusterIdentifier === c.DBClusterIdentifier).map((i) => i.DBInstanceIdentifier).sort(),
  }]));
}

/** Which operation's cluster carries the target's identifier before each task: `<state>=<operation>`. */
function servedBy(h: E2EHarness, log: string[]) {
  return async (state: string) => {
    const all = await clusters(h);
    log.push(`${state}=${all[TARGET]?.tags[PipelineTag.OPERATION_ID] ?? 'none'}`);
  };
}

const errorMessage = (run: PipelineRun) => JSON.parse(run.error!.Cause).errorMessage as string;

describe('swap cutover', () => {
  test('11a. over an owned target: the old cluster is served until the cutover, the new one after; the previous one retired with a final snapshot; a second swap works', async () => {
    const s = await scenario();
    const { h } = s;
    const before = (await clusters(h))[TARGET];
    const served: string[] = [];
    const record = servedBy(h, served);
    let cutoverCalls = 0;
    const run = await h.run({ requestedBy: 'nightly' }, {
      executionName: 'swap-1',
      beforeTask: async (state) => {
        await record(state);
        if (state !== 'Cutover') return;
        // RDS takes a while to rename: the second check finds the previous target still renaming, the third done.
        cutoverCalls++;
        if (cutoverCalls === 2) await h.moto.holdClusterStatus(PREVIOUS, 'renaming', { region: TARGET_REGION });
        if (cutoverCalls === 3) await h.moto.release('cluster', PREVIOUS, { region: TARGET_REGION });
      },
    });
    expectSucceeded(run);
    expect(run.invocations[0].result).toMatchObject({ replaceTarget: true, swap: true });
    const temporary = temporaryClusterIdentifier(TARGET, 'swap-1');

    // The old cluster serves the target's identifier through restore, users and the first cutover check; the new one after.
    const firstCutover = served.indexOf('Cutover=last-week');
    expect(served.slice(0, firstCutover).every((x) => x.endsWith('=last-week'))).toBe(true);
    expect(served.slice(0, firstCutover).map((x) => x.split('=')[0])).toEqual(expect.arrayContaining(['RestoreSnapshot', 'CheckRestoreStatus', 'SetupDbUsers', 'DeleteKeptPreviousTarget']));
    expect(served.slice(firstCutover + 1)).toContain('Cutover=none'); // between the two renames
    expect(served[served.length - 1]).toBe('NotifySuccess=swap-1');
    expect(run.path).not.toContain('DeleteRds');
    const phases = run.invocations.filter((i) => i.stateName === 'Cutover').map((i) => `${(i.result as any).phase}:${(i.result as any).status}`);
    expect(phases).toEqual(['renaming-target-away:renaming', 'renaming-target-away:renaming', 'renaming-new-cluster:renaming', 'done:available']);
    expect(run.path.filter((p) => p === 'WaitForCutover')).toHaveLength(3);

    // Afterwards: the target is the new cluster (its writer keeps the temporary name), the previous one and the temporary name are gone.
    const after = await clusters(h);
    expect(Object.keys(after).sort()).toEqual(['prod-aurora', TARGET]);
    expect(after[TARGET]).toMatchObject({
      arn: `arn:aws:rds:${TARGET_REGION}:123456789012:cluster:${TARGET}`,
      tags: { [PipelineTag.PIPELINE]: h.config.pipelineId, [PipelineTag.OPERATION_ID]: 'swap-1' },
      members: [temporaryWriterIdentifier(TARGET, 'swap-1')],
      status: 'available',
    });
    expect(after[TARGET].resourceId).not.toBe(before.resourceId);
    expect(after[temporary]).toBeUndefined();
    const final = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: finalSnapshotIdentifier(TARGET, 'swap-1') }))).DBClusterSnapshots![0];
    expect(final).toMatchObject({ DBClusterIdentifier: PREVIOUS });
    expect(tagMap(final.TagList)).toMatchObject({ [PipelineTag.PIPELINE]: h.config.pipelineId, [PipelineTag.FINAL_SNAPSHOT]: 'swap-1', [PipelineTag.OPERATION_ID]: 'last-week' });

    // The unavailable time: state item, audit trail, notification.
    const item = await h.stateItem('swap-1');
    expect(item).toMatchObject({ status: 'SUCCEEDED', target_unavailable_seconds: expect.any(Number) });
    const audit = await h.auditItems('swap-1');
    expect(audit.find((a) => a.step === 'Cutover' && a.outcome === 'SUCCEEDED')!.details).toMatchObject({ targetUnavailableSeconds: item!.target_unavailable_seconds });
    expect(await auditTrail(h, 'swap-1')).toEqual(expect.arrayContaining(['DeleteKeptPreviousTarget:SUCCEEDED', 'Cutover:IN_PROGRESS', 'Cutover:SUCCEEDED', 'RetirePreviousTarget:SUCCEEDED']));
    const [message] = await notifications(h);
    expect(message).toMatchObject({
      status: 'SUCCEEDED',
      replaceStrategy: 'SWAP',
      targetUnavailableSeconds: item!.target_unavailable_seconds,
      previousTarget: { identifier: PREVIOUS, action: 'deleted', finalSnapshotIdentifier: finalSnapshotIdentifier(TARGET, 'swap-1') },
    });

    // The next night swaps again: the previous target is now the one whose writer has a temporary name.
    const second = await h.run({}, { executionName: 'swap-2' });
    expectSucceeded(second);
    const again = await clusters(h);
    expect(Object.keys(again).sort()).toEqual(['prod-aurora', TARGET]);
    expect(again[TARGET]).toMatchObject({ tags: { [PipelineTag.OPERATION_ID]: 'swap-2' }, members: [temporaryWriterIdentifier(TARGET, 'swap-2')] });
    expect((second.invocations.find((i) => i.stateName === 'RetirePreviousTarget' && (i.result as any).done)!.result)).toMatchObject({
      status: 'deleted', finalSnapshotIdentifier: finalSnapshotIdentifier(TARGET, 'swap-2'),
    });
    expect(await s.leaks([run, second])).toEqual([]);
  });

  test('11b. PreviousTargetRetention.KEEP: the previous target stays renamed and tagged; the next swap deletes it first, with a final snapshot', async () => {
    const s = await scenario({ previousTargetRetention: PreviousTargetRetention.KEEP });
    const { h } = s;
    const first = await h.run({}, { executionName: 'keep-1' });
    expectSucceeded(first);
    expect(first.path).not.toContain('RetirePreviousTarget');
    let all = await clusters(h);
    expect(all[PREVIOUS]).toMatchObject({
      tags: { [PipelineTag.PIPELINE]: h.config.pipelineId, [PipelineTag.OPERATION_ID]: 'last-week', [PipelineTag.PREVIOUS_TARGET]: 'keep-1', team: 'dba' },
      members: [h.config.restore.instanceIdentifier],
    });
    expect(all[TARGET].tags[PipelineTag.OPERATION_ID]).toBe('keep-1');
    expect((await notifications(h))[0]).toMatchObject({ previousTarget: { identifier: PREVIOUS, action: 'kept' } });

    const second = await h.run({}, { executionName: 'keep-2' });
    expectSucceeded(second);
    const cleared = second.invocations.filter((i) => i.stateName === 'DeleteKeptPreviousTarget').map((i) => (i.result as any).status);
    expect(cleared[cleared.length - 1]).toBe('deleted');
    // Named after the operation that kept it: keep-2's own name stays free for its own previous target.
    const final = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: finalSnapshotIdentifier(TARGET, 'keep-1') }))).DBClusterSnapshots![0];
    expect(tagMap(final.TagList)).toMatchObject({ [PipelineTag.FINAL_SNAPSHOT]: 'keep-1', [PipelineTag.OPERATION_ID]: 'last-week' });
    all = await clusters(h);
    expect(all[PREVIOUS].tags).toMatchObject({ [PipelineTag.OPERATION_ID]: 'keep-1', [PipelineTag.PREVIOUS_TARGET]: 'keep-2' });
    expect(all[TARGET].tags[PipelineTag.OPERATION_ID]).toBe('keep-2');
    expect(await s.leaks([first, second])).toEqual([]);
  });

  test('11c. the restore fails: the target is untouched (identifier, endpoint, tags, instances); the temporary cluster is deleted', async () => {
    const s = await scenario();
    const { h } = s;
    const before = await clusters(h);
    const temporary = temporaryClusterIdentifier(TARGET, 'broken-1');
    const run = await h.run({}, {
      executionName: 'broken-1',
      beforeTask: async (state) => {
        if (state !== 'CheckRestoreStatus') return;
        await h.moto.overrideCluster(temporary, { endpoint: 'localhost', status: 'inaccessible-encryption-credentials' }, { region: TARGET_REGION });
      },
    });
    expect(run.status).toBe('FAILED');
    expect(run.error!.Error).toBe('RestoreFailed');
    expect(run.path).not.toContain('Cutover');
    const after = await clusters(h);
    expect(after).toEqual(before);
    const [message] = await notifications(h);
    expect(message).toMatchObject({
      status: 'FAILED',
      error: { name: 'RestoreFailed' },
      temporaryCluster: { identifier: temporary, action: 'deleted' },
    });
    expect(message.previousTarget).toBeUndefined();
    expect(await h.stateItem(`LOCK#${TARGET}`)).toBeUndefined();
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11f. validation fails: the target is untouched, the temporary cluster deleted, ValidationFailed notified', async () => {
    const s = await scenario({
      databaseNames: [APP_DATABASE],
      validationQueries: [{ name: 'no-such-rows', database: APP_DATABASE, sql: 'SELECT count(*) FROM pg_roles WHERE rolname = \'nobody-has-this-role\'' }],
    });
    const { h } = s;
    const before = await clusters(h);
    const temporary = temporaryClusterIdentifier(TARGET, 'invalid-1');
    const run = await h.run({}, { executionName: 'invalid-1' });
    expect(run.status).toBe('FAILED');
    expect(run.error!.Error).toBe('ValidationFailed');
    expect(errorMessage(run)).toContain('no-such-rows');
    expect(run.path).not.toContain('Cutover');
    expect(await clusters(h)).toEqual(before);
    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'FAILED', error: { name: 'ValidationFailed' }, temporaryCluster: { identifier: temporary, action: 'deleted' } });
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11d. a cluster takes the target\'s identifier between the two renames: CutoverFailed says where each cluster is; the temporary cluster is kept', async () => {
    const s = await scenario();
    const { h } = s;
    const temporary = temporaryClusterIdentifier(TARGET, 'race-1');
    const run = await h.run({}, {
      executionName: 'race-1',
      beforeTask: async (state) => {
        if (state !== 'Cutover') return;
        const all = await clusters(h);
        if (all[TARGET] || !all[PREVIOUS]) return;
        await h.rds(TARGET_REGION).send(new CreateDBClusterCommand({
          DBClusterIdentifier: TARGET, Engine: 'aurora-postgresql', MasterUsername: MASTER_USERNAME, MasterUserPassword: 'intruder-pw-1', Tags: [{ Key: 'team', Value: 'other' }],
        }));
      },
    });
    expect(run.status).toBe('FAILED');
    expect(run.error!.Error).toBe('CutoverFailed');
    const text = errorMessage(run);
    expect(text).toContain(`the previous target (old data) is ${PREVIOUS}; the new cluster is ${temporary} (kept)`);
    expect(text).toContain(`aws rds modify-db-cluster --db-cluster-identifier ${PREVIOUS} --new-db-cluster-identifier ${TARGET} --apply-immediately`);
    const after = await clusters(h);
    expect(after[PREVIOUS].tags).toMatchObject({ [PipelineTag.OPERATION_ID]: 'last-week', [PipelineTag.PREVIOUS_TARGET]: 'race-1' });
    expect(after[temporary].tags).toMatchObject({ [PipelineTag.OPERATION_ID]: 'race-1' });
    expect(after[TARGET].tags).toEqual({ team: 'other' });
    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'FAILED', error: { name: 'CutoverFailed' }, temporaryCluster: { identifier: temporary, action: 'untouched' } });
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11e. a redriven old execution during a newer swap: LockLost before any change; the swap then finishes', async () => {
    const s = await scenario();
    const { h } = s;
    const old = await runAndStop(h, 'old', 'SnapshotCheck');
    const oldState = old.invocations[0].result;
    expect(oldState).toMatchObject({ operationId: 'old', swap: true });
    await h.invoke('SnsNotification', statusChangeEvent({
      executionArn: old.executionArn,
      stateMachineArn: h.machine.arn,
      name: old.executionName,
      status: 'ABORTED',
      startDate: old.events.find((e) => e.type === 'ExecutionStarted')!.timestamp,
      stopDate: old.events[old.events.length - 1].timestamp,
      account: h.resolver.account,
      region: TARGET_REGION,
    }));
    await notifications(h);

    // The newer swap is halfway: the target renamed away, the new cluster not yet renamed in (paused here, lock held).
    const newer = await runAndStop(h, 'newer', 'Cutover');
    const cut = newer.invocations.find((i) => i.stateName === 'Cutover')!;
    expect(cut.result).toMatchObject({ phase: 'renaming-target-away' });
    const halfway = await clusters(h);
    expect(halfway[TARGET]).toBeUndefined();
    expect(halfway[PREVIOUS].tags[PipelineTag.PREVIOUS_TARGET]).toBe('newer');

    // Someone redrives the old execution: its cutover, its failure settlement and its notification change nothing.
    const redriven = await h.resume('old', 'Cutover', oldState);
    expect(redriven.path).toEqual(['Redrive', 'Cutover', 'NotifyFailure', 'Failed']);
    expect(redriven.error!.Error).toBe('LockLost');
    // (moto's one-shot `renaming` after a rename is consumed by the first describe: the status is no change.)
    const withoutStatus = (all: Awaited<ReturnType<typeof clusters>>) =>
      Object.fromEntries(Object.entries(all).map(([id, c]) => [id, { ...c, status: undefined }]));
    expect(withoutStatus(await clusters(h))).toEqual(withoutStatus(halfway));
    const [message] = await notifications(h);
    expect(message).toMatchObject({ operationId: 'old', status: 'FAILED', error: { name: 'LockLost' } });

    // The newer execution, resumed, finishes its swap.
    const resumed = await h.resume('newer', 'WaitForCutover', { ...(cut.event as object), cutover: cut.result });
    expectSucceeded(resumed);
    expect((await clusters(h))[TARGET].tags[PipelineTag.OPERATION_ID]).toBe('newer');
    expect(await s.leaks([old, newer, redriven, resumed])).toEqual([]);
  });
});
