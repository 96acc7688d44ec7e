/*
 * e2e: the synthesized pipeline, run by aws-local-stepfunctions with the bundled handlers, against moto
 * (AWS) and a real PostgreSQL standing in for the restored cluster. Same region: no copy.
 *
 * 1. a new target: the latest snapshot restored, the master password reset, users of each privilege, production's
 *    other logins disabled and the production admin configured READ_ONLY reduced to read access;
 * 2. an existing target the pipeline owns: deleted (its instances and, once they are deleting, the cluster with a final
 *    snapshot, in the same check), restored;
 * 7. the same restore again, over the target the first run created (the nightly refresh): it converges.
 */
import { randomBytes } from 'node:crypto';
import {
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  type DBCluster,
  type DBInstance,
} from '@aws-sdk/client-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { finalSnapshotIdentifier } from '../../lambda-src/lib/naming';
import { DatabasePrivilege, PipelineTag, ReplaceStrategy, type AuroraRestorePipelineProps } from '../../src';
import type { E2EHarness } from './support/harness';
import { APP_DATABASE, MASTER_USERNAME, PROD_APP, PROD_DBA, probeRole, type RoleAbilities } from './support/local-cluster';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, expectSucceeded, notifications, seedTarget, startScenario, startWorld, type Scenario, type World } from './support/world';
import type { DbUsersResult } from '../../src/contracts';

jest.setTimeout(600_000);

const READ_ONLY: RoleAbilities = { login: 'ok', select: 'ok', insert: '42501', createTable: '42501' };
const READ_WRITE: RoleAbilities = { login: 'ok', select: 'ok', insert: 'ok', createTable: '42501' };
const WRONG_PASSWORD: RoleAbilities = { login: '28P01', select: 'not tried', insert: 'not tried', createTable: 'not tried' };
const ALL_USERS = ['app_ro', 'app_rw', 'legacy_app', 'legacy_ro'];
/** app_ro comes with the snapshot (a production admin): updated, not created. */
const NEW_USERS = ['app_rw', 'legacy_app', 'legacy_ro'];
const PRODUCTION_CHANGES = {
  disabledLogins: [PROD_APP, PROD_DBA],
  revokedMemberships: ['prod_app from app_ro', 'prod_readers from app_ro', 'rds_superuser from app_ro'],
};

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true });
});
afterAll(async () => {
  await world?.stop();
});

/** Users of each privilege: two configured one by one (generated secrets) and two in the original design's combined secret. */
async function usersScenario(props: Partial<AuroraRestorePipelineProps> = {}): Promise<Scenario & { legacy: Record<string, string> }> {
  const { stack } = pipelineStack((scope) => ({
    ...props,
    databaseNames: [APP_DATABASE],
    databaseUsers: [
      { username: 'app_ro', privilege: DatabasePrivilege.READ_ONLY },
      { username: 'app_rw', privilege: DatabasePrivilege.READ_WRITE },
    ],
    combinedUsersSecret: new secretsmanager.Secret(scope, 'LegacyUsers', { description: 'app_* and readonly_* users' }),
  }));
  const s = await startScenario(world, stack);
  const legacy = { app_username: 'legacy_app', app_password: password(), readonly_username: 'legacy_ro', readonly_password: password() };
  await s.h.putSecretJson(combinedSecretArn(s.h), legacy);
  return { ...s, legacy };
}

function password(): string {
  return `pw-${randomBytes(18).toString('base64url')}`;
}

function combinedSecretArn(h: E2EHarness): string {
  return h.dbUsers.find((u) => u.usernameKey === 'app_username')!.secretArn;
}

function userSecretArn(h: E2EHarness, username: string): string {
  return h.dbUsers.find((u) => u.username === username)!.secretArn;
}

async function userPassword(h: E2EHarness, username: string): Promise<string> {
  return (await h.secretJson(userSecretArn(h, username))).password;
}

async function cluster(h: E2EHarness, id: string): Promise<DBCluster | undefined> {
  const all = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({}))).DBClusters ?? [];
  return all.find((c) => c.DBClusterIdentifier === id);
}

async function instances(h: E2EHarness): Promise<DBInstance[]> {
  return (await h.rds(TARGET_REGION).send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
}

function tagsOf(resource: { TagList?: Array<{ Key?: string; Value?: string }> } | undefined): Record<string, string> {
  return Object.fromEntries((resource?.TagList ?? []).map((t) => [t.Key!, t.Value!]));
}

/** Users of each privilege, the master password the target's, in the app database. */
async function expectUsersAndMaster(s: Scenario & { legacy: Record<string, string> }): Promise<void> {
  const pg = world.pg!;
  const master = (await s.h.secretJson(s.h.config.restore.masterSecretArn)).password;
  expect(await probeRole(pg, MASTER_USERNAME, master)).toMatchObject({ login: 'ok', select: 'ok', insert: 'ok' });
  // The source's master password no longer opens the restored cluster.
  expect(await probeRole(pg, MASTER_USERNAME, world.sourcePassword)).toEqual(WRONG_PASSWORD);
  expect(await probeRole(pg, 'app_ro', await userPassword(s.h, 'app_ro'))).toEqual(READ_ONLY);
  expect(await probeRole(pg, 'app_rw', await userPassword(s.h, 'app_rw'))).toEqual(READ_WRITE);
  expect(await probeRole(pg, 'legacy_ro', s.legacy.readonly_password)).toEqual(READ_ONLY);
  expect(await probeRole(pg, 'legacy_app', s.legacy.app_password)).toEqual(READ_WRITE);
  // No production password opens the copy: not the disabled logins', not the one of app_ro (now configured).
  expect(s.production!.logins.map((l) => l.username).sort()).toEqual(['app_ro', PROD_APP, PROD_DBA]);
  for (const login of s.production!.logins) expect(await probeRole(pg, login.username, login.password)).toEqual(WRONG_PASSWORD);
}

describe('same-region restore', () => {
  test('1. into a new target: the latest snapshot, the master password reset, users of each privilege, success notified', async () => {
    const s = await usersScenario();
    const { h } = s;
    // The restore takes a few checks: the cluster is held `creating` at the first one.
    await s.target!.hold('creating');
    const run = await h.run({ requestedBy: 'e2e' }, {
      executionName: 'nightly-1',
      beforeTask: async (state, _event, attempt) => {
        if (state === 'CheckRestoreStatus' && attempt === 1) await s.target!.release();
      },
    });
    expectSucceeded(run);

    expect(run.path).toEqual([
      'SnapshotCheck', 'DryRun?', 'CopyNeeded?', 'ReplaceTarget?', 'RestoreSnapshot',
      'WaitForRestore', 'CheckRestoreStatus', 'RestoreDone?', // creating (held)
      'WaitForRestore', 'CheckRestoreStatus', 'RestoreDone?', // creating (moto's own first report)
      'WaitForRestore', 'CheckRestoreStatus', 'RestoreDone?', // available: master password reset requested
      'WaitForRestore', 'CheckRestoreStatus', 'RestoreDone?', // reset applied
      'SetupDbUsers', 'ValidateRestore', 'Swap?', 'ArchiveSnapshot', 'NotifySuccess', 'Succeeded',
    ]);
    expect(run.invocations.filter((i) => i.stateName === 'CheckRestoreStatus').map((i) => (i.result as any).status))
      .toEqual(['creating', 'creating', 'resetting-master-password', 'available']);

    // moto: the restored cluster and its writer, tagged as this pipeline's; the source untouched.
    const restored = await cluster(h, 'staging-aurora');
    expect(restored).toMatchObject({
      Status: 'available', MasterUsername: MASTER_USERNAME, KmsKeyId: h.config.restore.kmsKeyArn, DeletionProtection: false, Port: world.pg!.port,
    });
    expect(tagsOf(restored)).toMatchObject({
      [PipelineTag.PIPELINE]: h.config.pipelineId,
      [PipelineTag.OPERATION_ID]: 'nightly-1',
      [PipelineTag.SOURCE_SNAPSHOT]: 'prod-aurora-new',
    });
    const writer = (await instances(h)).find((i) => i.DBInstanceIdentifier === 'staging-aurora-writer');
    expect(writer).toMatchObject({ DBClusterIdentifier: 'staging-aurora', DBInstanceClass: 'db.serverless' });
    expect(tagsOf(writer)).toMatchObject({ [PipelineTag.PIPELINE]: h.config.pipelineId, [PipelineTag.OPERATION_ID]: 'nightly-1' });
    expect(await cluster(h, 'prod-aurora')).toMatchObject({ Status: 'available' });
    const sourceSnapshots = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'prod-aurora', SnapshotType: 'manual' }))).DBClusterSnapshots!;
    expect(sourceSnapshots.map((x) => x.DBClusterSnapshotIdentifier).sort()).toEqual(['prod-aurora-new', 'prod-aurora-old']);

    // PostgreSQL: the target's master password (reset from the source's) and every user with its privileges.
    expect(s.target!.passwordChanges()).toBe(2); // the source's after the restore, then the target's
    await expectUsersAndMaster(s);

    // DynamoDB: the final state, no lock left, the audit trail step by step.
    expect(await h.stateItem('nightly-1')).toMatchObject({
      status: 'SUCCEEDED',
      execution_arn: run.executionArn,
      snapshot_identifier: 'prod-aurora-new',
      source_cluster_identifier: 'prod-aurora',
      target_cluster_identifier: 'staging-aurora',
      target_endpoint: 'localhost',
      requested_by: 'e2e',
      step: 'SnsNotification',
      finished_at: expect.any(String),
    });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect(await auditTrail(h, 'nightly-1')).toEqual([
      'SnapshotCheck:SUCCEEDED', 'RestoreSnapshot:IN_PROGRESS',
      'CheckRestoreStatus:IN_PROGRESS', 'CheckRestoreStatus:IN_PROGRESS', 'CheckRestoreStatus:IN_PROGRESS', 'CheckRestoreStatus:SUCCEEDED',
      'SetupDbUsers:SUCCEEDED', 'ValidateRestore:SUCCEEDED', 'ArchiveSnapshot:SKIPPED', 'SnsNotification:SUCCEEDED',
    ]);
    const audit = await h.auditItems('nightly-1');
    expect(audit[0]).toMatchObject({ step: 'SnapshotCheck', requested_by: 'e2e', details: { snapshotIdentifier: 'prod-aurora-new', replaceTarget: false } });
    expect(audit.find((i) => i.step === 'SetupDbUsers')!.details).toMatchObject({ updated: ['app_ro'], ...PRODUCTION_CHANGES });
    expect([...audit.find((i) => i.step === 'SetupDbUsers')!.details.created].sort()).toEqual(NEW_USERS);

    // SNS → SQS: one success notification with the snapshot, the endpoint, the users and the step durations.
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({
      status: 'SUCCEEDED',
      operationId: 'nightly-1',
      executionArn: run.executionArn,
      consoleLink: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${run.executionArn}`,
      snapshot: { identifier: 'prod-aurora-new' },
      target: { endpoint: 'localhost', port: world.pg!.port, engineVersion: '16.4' },
      archive: { action: 'none' },
    });
    expect([...message.dbUsers.created].sort()).toEqual(NEW_USERS);
    expect(message.dbUsers).toMatchObject(PRODUCTION_CHANGES);
    expect(Object.keys(message.stepDurationsMs)).toEqual(['SnapshotCheck', 'RestoreSnapshot', 'CheckRestoreStatus', 'SetupDbUsers', 'ValidateRestore', 'ArchiveSnapshot']);
    expect(message.error).toBeUndefined();

    expect(await s.leaks([run])).toEqual([]);
  });

  test('2. DELETE_FIRST over a target it owns: instances and the cluster (with a final snapshot) deleted in one check, then restored', async () => {
    const s = await usersScenario({ replaceStrategy: ReplaceStrategy.DELETE_FIRST });
    const { h } = s;
    await seedTarget(h, world, {
      tags: [
        { Key: PipelineTag.PIPELINE, Value: h.config.pipelineId },
        { Key: PipelineTag.OPERATION_ID, Value: 'last-week' },
        { Key: 'generation', Value: 'old' },
      ],
      reader: true,
    });
    // What RDS holds each time DeleteRds runs.
    const seen: Array<{ cluster: boolean; members: string[] }> = [];
    const run = await h.run({}, {
      executionName: 'refresh-2',
      beforeTask: async (state) => {
        if (state !== 'DeleteRds') return;
        const c = await cluster(h, 'staging-aurora');
        seen.push({ cluster: c !== undefined, members: (c?.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier!).sort() });
      },
    });
    expectSucceeded(run);

    expect(run.invocations[0].result).toMatchObject({ replaceTarget: true, copyRequired: false });
    // The seeded target does not copy its tags to snapshots: DeleteRds turns that on first, so the final snapshot
    // carries the ownership tag that IAM requires to mark it and, later, to delete it. Then one check requests the
    // instances' delete and, as RDS takes a cluster whose instances are all deleting, the cluster's.
    expect(seen).toEqual([
      { cluster: true, members: ['staging-aurora-reader', 'staging-aurora-writer'] },
      { cluster: true, members: ['staging-aurora-reader', 'staging-aurora-writer'] },
      { cluster: false, members: [] },
    ]);
    expect(run.invocations.filter((i) => i.stateName === 'DeleteRds').map((i) => (i.result as any).status))
      .toEqual(['copying-tags-to-final-snapshot', 'deleting', 'deleted']);
    expect(run.invocations.filter((i) => i.stateName === 'DeleteRds').map((i) => (i.result as any).phase)).toEqual([undefined, 'delete', 'delete']);

    // The final snapshot of the old target exists; the new target is this operation's, without the old reader.
    const finals = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: finalSnapshotIdentifier('staging-aurora', 'refresh-2') }))).DBClusterSnapshots!;
    expect(finals).toEqual([expect.objectContaining({ DBClusterIdentifier: 'staging-aurora', Status: 'available', SnapshotType: 'manual' })]);
    expect(tagsOf(finals[0] as any)).toMatchObject({ [PipelineTag.PIPELINE]: h.config.pipelineId, [PipelineTag.FINAL_SNAPSHOT]: 'refresh-2' });
    const restored = await cluster(h, 'staging-aurora');
    expect(tagsOf(restored)).toMatchObject({ [PipelineTag.OPERATION_ID]: 'refresh-2', [PipelineTag.SOURCE_SNAPSHOT]: 'prod-aurora-new' });
    expect(tagsOf(restored).generation).toBeUndefined();
    expect((await instances(h)).map((i) => i.DBInstanceIdentifier).sort()).toEqual(['staging-aurora-writer']);
    expect(restored!.DBClusterMembers!.map((m) => m.DBInstanceIdentifier)).toEqual(['staging-aurora-writer']);

    await expectUsersAndMaster(s);
    expect(await h.stateItem('refresh-2')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    // The delete's one wait is in the target's history, as the phase `delete` (not the two parts of earlier versions).
    const history = await h.stateItem('HISTORY#staging-aurora');
    expect(history?.phases?.delete).toEqual([expect.objectContaining({ operationId: 'refresh-2', seconds: expect.any(Number) })]);
    expect(Object.keys(history?.phases ?? {})).not.toEqual(expect.arrayContaining(['deleteInstances']));
    expect(Object.keys(history?.phases ?? {})).not.toEqual(expect.arrayContaining(['deleteCluster']));
    expect(await auditTrail(h, 'refresh-2')).toEqual(expect.arrayContaining([
      'DeleteRds:IN_PROGRESS', 'DeleteRds:SUCCEEDED', 'RestoreSnapshot:IN_PROGRESS', 'SnsNotification:SUCCEEDED',
    ]));
    const deleteAudit = (await h.auditItems('refresh-2')).filter((i) => i.step === 'DeleteRds');
    expect(deleteAudit.map((i) => i.details.status)).toEqual(['copying-tags-to-final-snapshot', 'deleting', 'deleted']);
    expect(deleteAudit[1].details.finalSnapshotIdentifier).toBe(finalSnapshotIdentifier('staging-aurora', 'refresh-2'));

    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'SUCCEEDED', operationId: 'refresh-2' });
    expect(message.stepDurationsMs.DeleteRds).toEqual(expect.any(Number));
    expect(await s.leaks([run])).toEqual([]);
  });

  test('7. the same restore again converges: the first run\'s target is swapped out (the default), users reconciled, new passwords apply', async () => {
    const s = await usersScenario();
    const { h } = s;
    const first = await h.run({ requestedBy: 'nightly' }, { executionName: 'nightly-1' });
    expectSucceeded(first);
    expect(first.path).not.toContain('DeleteRds');

    // Between the nights, app_rw's password is rotated in its secret.
    const oldRw = await userPassword(h, 'app_rw');
    const newRw = password();
    await h.putSecretJson(userSecretArn(h, 'app_rw'), { username: 'app_rw', password: newRw });

    const second = await h.run({ requestedBy: 'nightly' }, { executionName: 'nightly-2' });
    expectSucceeded(second);
    expect(second.invocations[0].result).toMatchObject({ replaceTarget: true });
    expect(second.invocations[0].result).toMatchObject({ swap: true });
    expect(second.path).toEqual(expect.arrayContaining(['RestoreSnapshot', 'SetupDbUsers', 'DeleteKeptPreviousTarget', 'Cutover', 'RetirePreviousTarget', 'Succeeded']));
    expect(second.path).not.toContain('DeleteRds');
    const users = second.invocations.find((i) => i.stateName === 'SetupDbUsers')!.result as DbUsersResult;
    expect(users.created).toEqual([]);
    expect([...users.updated].sort()).toEqual(ALL_USERS);
    // The first run disabled production's logins and cut app_ro's memberships: nothing left to do.
    expect(users).toMatchObject({ disabledLogins: [], revokedMemberships: [] });

    // The target is the second run's; the first one's, renamed away at the cutover, was kept as a final snapshot.
    expect(tagsOf(await cluster(h, 'staging-aurora'))).toMatchObject({ [PipelineTag.OPERATION_ID]: 'nightly-2' });
    const finals = (await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: 'arp-prev-staging-aurora' }))).DBClusterSnapshots!;
    expect(finals.map((f) => f.DBClusterSnapshotIdentifier)).toContain(finalSnapshotIdentifier('staging-aurora', 'nightly-2'));

    await expectUsersAndMaster(s);
    expect(await probeRole(world.pg!, 'app_rw', oldRw)).toEqual(WRONG_PASSWORD);

    expect(await h.stateItem('nightly-1')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await h.stateItem('nightly-2')).toMatchObject({ status: 'SUCCEEDED', snapshot_identifier: 'prod-aurora-new' });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect((await notifications(h)).map((m) => [m.operationId, m.status])).toEqual([['nightly-1', 'SUCCEEDED'], ['nightly-2', 'SUCCEEDED']]);
    expect(await s.leaks([first, second])).toEqual([]);
  });
});
