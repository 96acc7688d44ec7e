/*
 * e2e: the RTO/RPO figures of a run. A scheduled cross-region run (input `{"requestedBy": "schedule"}`, as the
 * pipeline's EventBridge Scheduler schedule sends it) copies the snapshot, restores beside a target the pipeline owns,
 * sets up a user, validates and swaps it in (the default strategy). The notification step's log must carry one embedded-metric-format line whose values
 * are what the audit trail and RDS imply, and the state item and the message must hold the same figures.
 */
import { DescribeDBClusterSnapshotsCommand } from '@aws-sdk/client-rds';
import { DatabasePrivilege, PipelineTag } from '../../src';
import { APP_DATABASE } from './support/local-cluster';
import { pipelineStack } from './support/stacks';
import { expectSucceeded, notifications, seedTarget, startScenario, startWorld, type World } from './support/world';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';
let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true });
});
afterAll(async () => {
  await world?.stop();
});

test('a scheduled run that copies and swaps out the target emits its figures as EMF, with the values its audit trail implies', async () => {
  const { stack } = pipelineStack({
    sourceRegion: SOURCE_REGION,
    databaseNames: [APP_DATABASE],
    databaseUsers: [{ username: 'app_rw', privilege: DatabasePrivilege.READ_WRITE }],
  });
  const s = await startScenario(world, stack);
  const { h } = s;
  await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: h.config.pipelineId }] });

  const run = await h.run({ requestedBy: 'schedule' }, { executionName: 'nightly-1' });
  expectSucceeded(run);

  // Who started it is recorded.
  const state = await h.stateItem('nightly-1');
  const audit = await h.auditItems('nightly-1');
  expect(state?.requested_by).toBe('schedule');
  expect(audit.filter((e) => e.requested_by === 'schedule').map((e) => e.step)).toEqual(['SnapshotCheck', 'SnsNotification']);

  // What the figures must be, from the audit trail (an entry is written when its step ends) and RDS.
  const end = (e: Record<string, any>) => Date.parse(String(e.time_step).split('#')[0]);
  const begin = (e: Record<string, any>) => end(e) - e.duration_ms;
  const of = (...steps: string[]) => audit.filter((e) => steps.includes(e.step));
  const span = (...steps: string[]) => (Math.max(...of(...steps).map(end)) - Math.min(...of(...steps).map(begin))) / 1000;
  // A swap's target is ready when the Cutover finds the new cluster available under the target's identifier.
  const readyAt = Math.max(...of('Cutover').map(end));
  const startedAt = Date.parse((run.invocations[0].event as { executionStartTime: string }).executionStartTime);
  const source = (await h.rds(SOURCE_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: 'prod-aurora-new' })))
    .DBClusterSnapshots![0];
  const createdAt = source.SnapshotCreateTime!.getTime();
  expect(of('CopySnapshot')).toHaveLength(1);
  expect(of('Cutover').length).toBeGreaterThanOrEqual(1);
  expect(of('DeleteRds')).toHaveLength(0);
  expect(typeof state?.target_unavailable_seconds).toBe('number');

  const notify = run.invocations.find((i) => i.stateName === 'NotifySuccess')!;
  const emfLines = notify.logs.filter((l) => l.includes('"_aws"'));
  expect(emfLines).toHaveLength(1);
  const emf = JSON.parse(emfLines[0]);
  expect(emf._aws.CloudWatchMetrics).toEqual([{
    Namespace: 'AuroraRestorePipeline',
    Dimensions: [['TargetCluster']],
    Metrics: ['RestoreTime', 'SnapshotAge', 'TargetUnavailableTime', 'CopyTime', 'RestorePhaseTime', 'UsersTime', 'ValidationTime', 'CutoverTime']
      .map((Name) => ({ Name, Unit: 'Seconds' })),
  }]);
  expect(emf._aws.Timestamp).toBe(readyAt);
  const expected = {
    TargetCluster: 'staging-aurora',
    operationId: 'nightly-1',
    RestoreTime: (readyAt - startedAt) / 1000,
    SnapshotAge: (readyAt - createdAt) / 1000,
    // As the Cutover measured it (first rename request → available under the target's identifier).
    TargetUnavailableTime: state?.target_unavailable_seconds,
    CopyTime: span('CopySnapshot', 'CheckCopyStatus'),
    RestorePhaseTime: span('RestoreSnapshot', 'CheckRestoreStatus'),
    UsersTime: of('SetupDbUsers')[0].duration_ms / 1000,
    ValidationTime: of('ValidateRestore')[0].duration_ms / 1000,
    CutoverTime: span('Cutover'),
  };
  expect(emf).toEqual({ _aws: emf._aws, ...expected });
  expect(emf.SnapshotAge).toBeGreaterThan(emf.RestoreTime);

  // The same figures in the state item and the notification.
  const figures = {
    startedAt: new Date(startedAt).toISOString(),
    readyAt: new Date(readyAt).toISOString(),
    restoreSeconds: expected.RestoreTime,
    snapshotCreatedAt: new Date(createdAt).toISOString(),
    snapshotAgeSeconds: expected.SnapshotAge,
    targetUnavailableSeconds: expected.TargetUnavailableTime,
    phaseSeconds: {
      COPY: expected.CopyTime,
      RESTORE: expected.RestorePhaseTime,
      USERS: expected.UsersTime,
      VALIDATION: expected.ValidationTime,
      CUTOVER: expected.CutoverTime,
    },
  };
  expect(state?.run_figures).toEqual(figures);
  const [message] = await notifications(h);
  expect(message).toMatchObject({ status: 'SUCCEEDED', requestedBy: 'schedule', figures });
  expect(await s.leaks([run])).toEqual([]);
});
