/*
 * e2e: the preflight and the dry run, against moto (a cross-region pipeline with a database user, so every check
 * applies):
 * 1. a dry run of a healthy configuration passes, notifies its checklist, and changes nothing: every DynamoDB table,
 *    every snapshot and every cluster of both regions is as it was, and no lock is taken;
 * 2. a missing KMS key, a missing subnet group, a full snapshot quota (held by the moto launcher) and an unreadable
 *    secret each fail a restore at SnapshotCheck with PreflightFailed naming the check, before any change, with no
 *    lock left; a dry run of a broken configuration ends FAILED (PreflightFailed) with its checklist notified.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { DatabasePrivilege, PipelineTag, PreflightCheckId, type AuroraRestorePipelineProps } from '../../src';
import type { E2EHarness } from './support/harness';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, notifications, seedTarget, startScenario, startWorld, type Scenario, type World } from './support/world';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';

let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.stop();
});

async function scenario(props: (stack: Stack) => Partial<AuroraRestorePipelineProps> = () => ({})): Promise<Scenario> {
  const { stack } = pipelineStack((scope) => ({
    sourceRegion: SOURCE_REGION,
    snapshotCopyKey: new kms.Key(scope, 'CopyKey', { description: 'DR copies', enableKeyRotation: true }),
    databaseUsers: [{ username: 'app_rw', privilege: DatabasePrivilege.READ_WRITE }],
    replaceExistingTarget: true,
    finalSnapshotOnDelete: true,
    ...props(scope),
  }));
  return startScenario(world, stack);
}

/** Everything a run could change: every item of every table, every snapshot and cluster of both regions. */
async function everything(h: E2EHarness) {
  const tables: Record<string, unknown[]> = {};
  for (const { name } of Object.values(h.provisioned.tables)) {
    tables[name] = ((await h.ddb.send(new ScanCommand({ TableName: name }))).Items ?? [])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  const rdsState: Record<string, unknown> = {};
  for (const region of [SOURCE_REGION, TARGET_REGION]) {
    rdsState[`${region} snapshots`] = (await h.rds(region).send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots;
    // LatestRestorableTime is the clock (moto reports now), not a change.
    rdsState[`${region} clusters`] = (await h.rds(region).send(new DescribeDBClustersCommand({}))).DBClusters
      ?.map(({ LatestRestorableTime: _, ...cluster }) => cluster);
  }
  return { tables, rds: rdsState };
}

/** What a restore that failed its preflight leaves: only the failure's records; RDS as it was, no lock. */
async function expectStoppedByPreflight(s: Scenario, executionName: string, failedCheck: PreflightCheckId): Promise<string> {
  const { h } = s;
  const before = await everything(h);
  const run = await h.run({ requestedBy: 'nightly' }, { executionName });
  expect(run.status).toBe('FAILED');
  expect(run.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
  expect(run.error!.Error).toBe('PreflightFailed');
  const cause = JSON.parse(run.error!.Cause).errorMessage as string;
  expect(cause).toMatch(/preflight checks failed, before anything was changed: /);
  expect(cause).toContain(`[${failedCheck}]`);
  expect(cause).toContain('Fix: ');
  const after = await everything(h);
  expect(after.rds).toEqual(before.rds);
  expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
  expect(await h.stateItem('LAST#staging-aurora')).toBeUndefined();
  expect(await auditTrail(h, executionName)).toEqual(['SnapshotCheck:FAILED', 'SnsNotification:SUCCEEDED']);
  expect(await h.stateItem(executionName)).toMatchObject({ status: 'FAILED', error_name: 'PreflightFailed', error_message: cause });
  const [message, ...more] = await notifications(h);
  expect(more).toEqual([]);
  expect(message).toMatchObject({ status: 'FAILED', error: { name: 'PreflightFailed', cause } });
  expect(await s.leaks([run])).toEqual([]);
  return cause;
}

describe('preflight', () => {
  test('1. a dry run of a healthy configuration passes, notifies the checklist, and changes nothing', async () => {
    const s = await scenario();
    const { h } = s;
    await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: h.config.pipelineId }] });
    const before = await everything(h);

    const run = await h.run({ dryRun: true, requestedBy: 'first deploy' }, { executionName: 'dry-1' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.path).toEqual(['SnapshotCheck', 'DryRun?', 'NotifyDryRun', 'DryRunPassed?', 'Succeeded']);

    expect(await everything(h)).toEqual(before);
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({
      status: 'DRY_RUN',
      dryRun: { passed: true },
      operationId: 'dry-1',
      requestedBy: 'first deploy',
      snapshot: { identifier: 'prod-aurora-new' },
    });
    const byId = Object.fromEntries((message.checks as Array<{ id: string; status: string; reason: string }>).map((c) => [c.id, c]));
    expect(Object.keys(byId)).toEqual(Object.values(PreflightCheckId));
    // Every check applies to this configuration (a cross-region copy, a target to replace, a user) but the engine
    // version and those of a source in another account (test/e2e/cross-account.test.ts).
    const skipped = [
      PreflightCheckId.SNAPSHOT_ENGINE_VERSION, PreflightCheckId.SOURCE_ROLE, PreflightCheckId.SOURCE_ENCRYPTED, PreflightCheckId.SHARE_KEY,
    ];
    for (const id of Object.values(PreflightCheckId)) {
      expect([id, byId[id].status]).toEqual([id, skipped.includes(id) ? 'SKIPPED' : 'PASSED']);
    }
    expect(byId[PreflightCheckId.SUBNET_GROUP].reason).toContain(`2 Availability Zones (${TARGET_REGION}a, ${TARGET_REGION}b)`);
    expect(byId[PreflightCheckId.SNAPSHOT_QUOTA].reason).toContain('this run takes 2 (the snapshot copy and the final snapshot of the target)');
    expect(byId[PreflightCheckId.SOURCE_KEY].reason).toContain('customer managed key');
    expect(await s.leaks([run])).toEqual([]);
  });

  test('2a. a missing KMS key fails the restore before any change', async () => {
    const s = await scenario((stack) => ({
      snapshotCopyKey: kms.Key.fromKeyArn(stack, 'GoneKey', `arn:aws:kms:${TARGET_REGION}:123456789012:key/00000000-0000-4000-8000-000000000000`),
    }));
    const cause = await expectStoppedByPreflight(s, 'no-key', PreflightCheckId.COPY_KEY);
    expect(cause).toContain('does not exist');
  });

  test('2b. a missing subnet group fails the restore before any change', async () => {
    const s = await scenario((stack) => ({ subnetGroup: rds.SubnetGroup.fromSubnetGroupName(stack, 'Gone', 'no-such-subnets') }));
    const cause = await expectStoppedByPreflight(s, 'no-subnets', PreflightCheckId.SUBNET_GROUP);
    expect(cause).toContain(`DB subnet group no-such-subnets does not exist in ${TARGET_REGION}`);
  });

  test('2c. a full manual snapshot quota (held by the moto launcher) fails the restore before any change', async () => {
    const s = await scenario();
    await s.h.moto.holdQuota('ManualClusterSnapshots', { used: 100, max: 100 }, { region: TARGET_REGION });
    const cause = await expectStoppedByPreflight(s, 'full-quota', PreflightCheckId.SNAPSHOT_QUOTA);
    expect(cause).toContain('100 of at most 100 manual cluster snapshots');
  });

  test('2d. an unreadable secret fails the restore before any change, naming the secret, never a value', async () => {
    const s = await scenario();
    const secrets = await s.secrets();
    await s.h.secrets().send(new DeleteSecretCommand({ SecretId: s.h.config.restore.masterSecretArn, ForceDeleteWithoutRecovery: true }));
    const cause = await expectStoppedByPreflight(s, 'no-secret', PreflightCheckId.MASTER_SECRET);
    expect(cause).toContain(s.h.config.restore.masterSecretArn);
    for (const value of secrets) expect(cause).not.toContain(value);
  });

  test('3. a dry run of a broken configuration ends FAILED with PreflightFailed, its checklist notified, nothing written', async () => {
    const s = await scenario((stack) => ({ subnetGroup: rds.SubnetGroup.fromSubnetGroupName(stack, 'Gone', 'no-such-subnets') }));
    const { h } = s;
    await h.moto.holdQuota('ManualClusterSnapshots', { used: 100, max: 100 }, { region: TARGET_REGION });
    const before = await everything(h);
    const run = await h.run({ dryRun: true }, { executionName: 'dry-broken' });
    expect(run.status).toBe('FAILED');
    expect(run.path).toEqual(['SnapshotCheck', 'DryRun?', 'NotifyDryRun', 'DryRunPassed?', 'DryRunFailed']);
    expect(run.error!.Error).toBe('PreflightFailed');
    expect(run.error!.Cause).toMatch(/^2 of 18 preflight checks failed, before anything was changed: \[network\.subnet-group\] .* \[quota\.cluster-snapshots\] /);
    expect(await everything(h)).toEqual(before);
    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'DRY_RUN', dryRun: { passed: false, summary: run.error!.Cause } });
    expect(message.checks.filter((c: { status: string }) => c.status === 'FAILED').map((c: { id: string }) => c.id))
      .toEqual([PreflightCheckId.SUBNET_GROUP, PreflightCheckId.SNAPSHOT_QUOTA]);
  });
});
