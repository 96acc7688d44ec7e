/*
 * e2e 6: cross-region restore. The stack is in eu-west-1, the source cluster and its snapshots in
 * us-east-1. moto copies the snapshot across regions for real (CopyDBClusterSnapshot in eu-west-1 from the
 * source ARN; SDK v3 presigns for us-east-1), re-encrypted with the stack's copy key; the copy is held at
 * `copying` for two checks with a growing PercentProgress, then restored from, then archived: deleted by
 * default, or kept and tagged with retainSnapshotCopy.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand, type DBClusterSnapshot } from '@aws-sdk/client-rds';
import * as kms from 'aws-cdk-lib/aws-kms';
import { copySnapshotIdentifier } from '../../lambda-src/lib/naming';
import { DatabasePrivilege, PipelineTag, type AuroraRestorePipelineProps } from '../../src';
import type { E2EHarness } from './support/harness';
import { APP_DATABASE, MASTER_USERNAME, probeRole } from './support/local-cluster';
import { pipelineStack, TARGET_REGION } from './support/stacks';
import { auditTrail, expectSucceeded, notifications, startScenario, startWorld, type Scenario, type World } from './support/world';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true });
});
afterAll(async () => {
  await world?.stop();
});

async function scenario(props: Partial<AuroraRestorePipelineProps> = {}): Promise<Scenario> {
  const { stack } = pipelineStack((scope) => ({
    sourceRegion: SOURCE_REGION,
    snapshotCopyKey: new kms.Key(scope, 'CopyKey', { description: 'DR copies', enableKeyRotation: true }),
    clusterTags: { env: 'dr' },
    databaseNames: [APP_DATABASE],
    databaseUsers: [{ username: 'app_rw', privilege: DatabasePrivilege.READ_WRITE }],
    ...props,
  }));
  return startScenario(world, stack);
}

async function snapshotIn(h: E2EHarness, region: string, id: string): Promise<DBClusterSnapshot | undefined> {
  const all = (await h.rds(region).send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? [];
  return all.find((x) => x.DBClusterSnapshotIdentifier === id);
}

function tags(resource: { TagList?: Array<{ Key?: string; Value?: string }> } | undefined): Record<string, string> {
  return Object.fromEntries((resource?.TagList ?? []).map((t) => [t.Key!, t.Value!]));
}

/**
 * Runs `dr-1` with the copy held at `copying` (10 %, then 55 %) for two rounds, recording the copy as
 * moto describes it in the target region while it is in flight.
 */
async function runWithSlowCopy(s: Scenario) {
  const { h } = s;
  const copyId = copySnapshotIdentifier('staging-aurora', 'dr-1');
  const scope = { region: TARGET_REGION };
  await h.moto.holdSnapshotStatus(copyId, 'copying', 10, scope);
  let inFlight: DBClusterSnapshot | undefined;
  const run = await h.run({ requestedBy: 'dr-drill' }, {
    executionName: 'dr-1',
    beforeTask: async (state, _event, attempt) => {
      if (state !== 'CheckCopyStatus') return;
      if (attempt === 0) {
        inFlight = await snapshotIn(h, TARGET_REGION, copyId);
        await h.moto.holdSnapshotStatus(copyId, 'copying', 55, scope);
      } else {
        await h.moto.release('snapshot', copyId, scope);
      }
    },
  });
  return { run, copyId, inFlight };
}

describe('cross-region restore', () => {
  test('6. copies into the target region with the target key, shows progress, restores from the copy, deletes the copy', async () => {
    const s = await scenario();
    const { h } = s;
    const { run, copyId, inFlight } = await runWithSlowCopy(s);
    expectSucceeded(run);

    expect(run.invocations[0].result).toMatchObject({
      copyRequired: true,
      replaceTarget: false,
      restoreSnapshotIdentifier: copyId,
      snapshot: { identifier: 'prod-aurora-new', region: SOURCE_REGION, arn: `arn:aws:rds:${SOURCE_REGION}:123456789012:cluster-snapshot:prod-aurora-new` },
    });
    expect(run.path.slice(0, 13)).toEqual([
      'SnapshotCheck', 'DryRun?', 'CopyNeeded?', 'CopySnapshot',
      'WaitForCopy', 'CheckCopyStatus', 'CopyDone?',
      'WaitForCopy', 'CheckCopyStatus', 'CopyDone?',
      'ReplaceTarget?', 'RestoreSnapshot', 'WaitForRestore',
    ]);
    const progress = run.invocations.filter((i) => /Copy/.test(i.stateName)).map((i) => {
      const r = i.result as { status: string; percentProgress: number; attempt: number; done: boolean };
      return [i.stateName, r.status, r.percentProgress, r.attempt, r.done];
    });
    expect(progress).toEqual([
      ['CopySnapshot', 'copying', 10, 0, false],
      ['CheckCopyStatus', 'copying', 55, 1, false],
      ['CheckCopyStatus', 'available', 100, 2, true],
    ]);

    // The copy, as moto held it mid-flight: in eu-west-1, from the us-east-1 snapshot, with the copy key and the tags.
    expect(inFlight).toMatchObject({
      DBClusterSnapshotArn: `arn:aws:rds:${TARGET_REGION}:123456789012:cluster-snapshot:${copyId}`,
      KmsKeyId: h.config.snapshotCopyKeyArn,
      StorageEncrypted: true,
      Status: 'copying',
      PercentProgress: 10,
      DBClusterIdentifier: 'prod-aurora',
    });
    expect(h.config.snapshotCopyKeyArn).toMatch(new RegExp(`^arn:aws:kms:${TARGET_REGION}:123456789012:key/`));
    expect(h.config.snapshotCopyKeyArn).not.toBe(h.provisioned.keys[Object.keys(h.provisioned.keys).find((k) => k.includes('EncryptionKey'))!].arn);
    expect(tags(inFlight)).toEqual({
      [PipelineTag.PIPELINE]: h.config.pipelineId,
      [PipelineTag.OPERATION_ID]: 'dr-1',
      [PipelineTag.SOURCE_SNAPSHOT]: 'prod-aurora-new',
      env: 'dr',
    });

    // Restored from the copy, with the copy key; the copy is gone, the source snapshot untouched.
    const restored = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(restored).toMatchObject({ DBClusterArn: `arn:aws:rds:${TARGET_REGION}:123456789012:cluster:staging-aurora`, KmsKeyId: h.config.snapshotCopyKeyArn });
    expect(tags(restored)).toMatchObject({ [PipelineTag.SOURCE_SNAPSHOT]: 'prod-aurora-new', env: 'dr' });
    expect((await h.auditItems('dr-1')).find((i) => i.step === 'RestoreSnapshot')!.details.restoreSnapshotIdentifier).toBe(copyId);
    expect(await snapshotIn(h, TARGET_REGION, copyId)).toBeUndefined();
    expect(await snapshotIn(h, SOURCE_REGION, 'prod-aurora-new')).toMatchObject({ Status: 'available' });

    // IAM (the harness evaluated every call): the copy read the us-east-1 snapshot and granted RDS the copy key; the
    // restore touched nothing in us-east-1.
    const requestsOf = (id: string) => h.iamCalls.filter((c) => c.functionLogicalId.includes(`Handlers${id}`))
      .flatMap((c) => c.requests.map((r) => `${r.action} ${r.resource}${r.context?.['kms:GrantIsForAWSResource'] ? ' for an AWS resource' : ''}`));
    expect(requestsOf('CopySnapshot')).toEqual(expect.arrayContaining([
      `rds:CopyDBClusterSnapshot arn:aws:rds:${SOURCE_REGION}:123456789012:cluster-snapshot:prod-aurora-new`,
      `rds:CopyDBClusterSnapshot arn:aws:rds:${TARGET_REGION}:123456789012:cluster-snapshot:${copyId}`,
      `kms:CreateGrant ${h.config.snapshotCopyKeyArn} for an AWS resource`,
    ]));
    expect(requestsOf('RestoreSnapshot')).toEqual(expect.arrayContaining([
      `rds:RestoreDBClusterFromSnapshot arn:aws:rds:${TARGET_REGION}:123456789012:cluster-snapshot:${copyId}`,
      `kms:CreateGrant ${h.config.snapshotCopyKeyArn} for an AWS resource`,
    ]));
    expect(requestsOf('RestoreSnapshot').filter((r) => r.includes(SOURCE_REGION))).toEqual([]);

    const master = (await h.secretJson(h.config.restore.masterSecretArn)).password;
    expect(await probeRole(world.pg!, MASTER_USERNAME, master)).toMatchObject({ login: 'ok' });
    const rw = (await h.secretJson(h.dbUsers[0].secretArn)).password;
    expect(await probeRole(world.pg!, 'app_rw', rw)).toEqual({ login: 'ok', select: 'ok', insert: 'ok', createTable: '42501' });
    for (const login of s.production!.logins) expect(await probeRole(world.pg!, login.username, login.password)).toMatchObject({ login: '28P01' });

    expect(await auditTrail(h, 'dr-1')).toEqual([
      'SnapshotCheck:SUCCEEDED', 'CopySnapshot:IN_PROGRESS', 'CheckCopyStatus:IN_PROGRESS', 'CheckCopyStatus:SUCCEEDED',
      // moto reports `creating` only in the restore's answer: the first check finds it available and resets the password.
      'RestoreSnapshot:IN_PROGRESS', 'CheckRestoreStatus:IN_PROGRESS', 'CheckRestoreStatus:SUCCEEDED',
      'SetupDbUsers:SUCCEEDED', 'ValidateRestore:SUCCEEDED', 'ArchiveSnapshot:SUCCEEDED', 'SnsNotification:SUCCEEDED',
    ]);
    const copyChecks = (await h.auditItems('dr-1')).filter((i) => i.step === 'CheckCopyStatus').map((i) => i.details.percentProgress);
    expect(copyChecks).toEqual([55, 100]);
    expect(await h.stateItem('dr-1')).toMatchObject({ status: 'SUCCEEDED', snapshot_arn: `arn:aws:rds:${SOURCE_REGION}:123456789012:cluster-snapshot:prod-aurora-new` });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();

    const [message] = await notifications(h);
    expect(message).toMatchObject({
      status: 'SUCCEEDED',
      sourceCluster: { identifier: 'prod-aurora', region: SOURCE_REGION },
      targetCluster: { identifier: 'staging-aurora', region: TARGET_REGION },
      archive: { action: 'deleted', snapshotIdentifier: copyId },
      // app_ro, a production admin, is not configured here: disabled like the other production logins.
      dbUsers: { created: ['app_rw'], disabledLogins: ['app_ro', 'prod_app', 'prod_dba'], revokedMemberships: [] },
    });
    expect(Object.keys(message.stepDurationsMs)).toEqual(expect.arrayContaining(['CopySnapshot', 'CheckCopyStatus']));
    expect(await s.leaks([run])).toEqual([]);
  });

  test('6b. with retainSnapshotCopy the copy is kept, tagged as retained', async () => {
    const s = await scenario({ retainSnapshotCopy: true });
    const { h } = s;
    const { run, copyId } = await runWithSlowCopy(s);
    expectSucceeded(run);

    const kept = await snapshotIn(h, TARGET_REGION, copyId);
    expect(kept).toMatchObject({ Status: 'available', KmsKeyId: h.config.snapshotCopyKeyArn });
    expect(tags(kept)).toEqual({
      [PipelineTag.PIPELINE]: h.config.pipelineId,
      [PipelineTag.OPERATION_ID]: 'dr-1',
      [PipelineTag.SOURCE_SNAPSHOT]: 'prod-aurora-new',
      [PipelineTag.RETAINED]: 'true',
      env: 'dr',
    });
    expect(run.invocations.find((i) => i.stateName === 'ArchiveSnapshot')!.result).toEqual({ action: 'retained', snapshotIdentifier: copyId });
    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'SUCCEEDED', archive: { action: 'retained', snapshotIdentifier: copyId } });
    expect(await s.leaks([run])).toEqual([]);
  });

  test.each([
    ['deleted by default', {}, 'deleted'],
    ['kept and tagged with retainSnapshotCopy', { retainSnapshotCopy: true }, 'retained'],
  ] as const)('6c. a restore that fails after the copy: the failure path settles the copy (%s) and says so', async (_what, props, action) => {
    const s = await scenario(props);
    const { h } = s;
    const copyId = copySnapshotIdentifier('staging-aurora', 'dr-2');
    await h.moto.holdClusterStatus('staging-aurora', 'incompatible-restore', { region: TARGET_REGION });
    const run = await h.run({}, { executionName: 'dr-2' });

    expect(run.status).toBe('FAILED');
    expect(run.error!.Error).toBe('RestoreFailed');
    expect(run.path).not.toContain('ArchiveSnapshot');
    expect(run.path.slice(-2)).toEqual(['NotifyFailure', 'Failed']);
    const [message] = await notifications(h);
    expect(message).toMatchObject({
      status: 'FAILED',
      error: { name: 'RestoreFailed' },
      snapshotCopy: { identifier: copyId, region: TARGET_REGION, action, status: 'available' },
    });
    const copy = await snapshotIn(h, TARGET_REGION, copyId);
    if (action === 'deleted') {
      expect(copy).toBeUndefined();
    } else {
      expect(tags(copy)).toMatchObject({ [PipelineTag.OPERATION_ID]: 'dr-2', [PipelineTag.RETAINED]: 'true' });
    }
    expect(await snapshotIn(h, SOURCE_REGION, 'prod-aurora-new')).toMatchObject({ Status: 'available' });
    expect(await h.stateItem('LOCK#staging-aurora')).toBeUndefined();
    expect(await s.leaks([run])).toEqual([]);
  });
});
