/*
 * e2e 11: production in another account. The source cluster `prod-aurora` is in account A (111111111111), encrypted
 * with A's `aws/rds` key (as most production clusters are: such a snapshot cannot be shared, so a shareable copy is
 * needed); AuroraRestoreSource's role and share key are deployed in A in the pipeline's region (source-account.ts);
 * the pipeline runs in account B (moto's default, 123456789012, eu-west-1).
 *
 * moto holds both accounts, and the launcher makes it behave as AWS does across them: AssumeRole only as the role's
 * trust policy allows (assume-role-trust), another account's snapshot only once shared and in its own region
 * (shared-snapshot-arn), a shared snapshot only on a key whose policy lets the account use it through RDS
 * (share-needs-customer-key, shared-key-policy). Every call is decided by IAM as the function's role, or as the
 * companion's role for the calls made with its temporary credentials (test/support/iam-recorder.ts); those
 * credentials are secrets the leak scan looks for.
 */
import { DescribeDBClusterSnapshotsCommand, DescribeDBClustersCommand, type DBCluster, type DBClusterSnapshot } from '@aws-sdk/client-rds';
import type { Stack } from 'aws-cdk-lib';
import { shareSnapshotIdentifier } from '../../lambda-src/lib/naming';
import { PipelineTag, PreflightCheckId, ReplaceStrategy, type AuroraRestorePipelineProps } from '../../src';
import { sourceAccessName } from '../../src/names';
import { awsJsonCall, awsQueryCall } from '../support/moto-json-api';
import { statusChangeEvent } from '../support/status-change-event';
import type { E2EHarness } from './support/harness';
import type { PipelineRun } from './support/run-pipeline';
import type { SourceAccount, SourceAccountOptions } from './support/source-account';
import { ACCOUNT, pipelineStack, TARGET_REGION } from './support/stacks';
import {
  auditTrail, expectSucceeded, notifications, runAndStop, seedTarget, startCrossAccountScenario, startWorld, type CrossAccountScenario, type World,
} from './support/world';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';
const LOCK = 'LOCK#staging-aurora';

let world: World;

beforeAll(async () => {
  world = await startWorld({ postgres: true });
});
afterAll(async () => {
  await world?.stop();
});

interface Options {
  /** The source cluster's region (the companion's `sourceRegion`, the pipeline's `sourceRegion`). Default us-east-1. */
  readonly sourceRegion?: string;
  /** The companion's props on top of the defaults (source-account.ts). */
  readonly source?: SourceAccountOptions['props'];
  readonly props?: Partial<AuroraRestorePipelineProps> | ((stack: Stack, source: SourceAccount) => Partial<AuroraRestorePipelineProps>);
  /** Whether the source cluster is encrypted (with A's aws/rds key). Default true. */
  readonly sourceEncrypted?: boolean;
  /** Give the pipeline only `sourceAccount`: the role and the share key by the names both sides compute. Default false. */
  readonly defaultNames?: boolean;
}

/** A pipeline in B restoring `prod-aurora` of account A, given the companion's role and share key. */
async function scenario(options: Options = {}): Promise<CrossAccountScenario> {
  const sourceRegion = options.sourceRegion ?? SOURCE_REGION;
  return startCrossAccountScenario(world, (source) => pipelineStack((stack) => ({
    sourceRegion,
    sourceAccount: source.account,
    ...(options.defaultNames ? {} : { sourceRoleArn: source.roleArn, sourceShareKeyArn: source.shareKeyArn }),
    ...(typeof options.props === 'function' ? options.props(stack, source) : options.props),
  })).stack, { source: { props: { sourceRegion, ...options.source } }, sourceEncrypted: options.sourceEncrypted });
}

/** Every cluster snapshot of account A in a region (identifier: status), as its administrator sees them. */
async function snapshotsInA(s: CrossAccountScenario, region: string): Promise<Record<string, string>> {
  const all: DBClusterSnapshot[] = (await s.source.rds(region).send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? [];
  return Object.fromEntries(all.map((x) => [x.DBClusterSnapshotIdentifier!, x.Status!]));
}

/** What account A has shared with the pipeline's account in its region. */
async function sharedWithB(h: E2EHarness): Promise<string[]> {
  const out = await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'shared' }));
  return (out.DBClusterSnapshots ?? []).map((x) => x.DBClusterSnapshotArn!);
}

/** Everything a run could change: RDS in both accounts (clusters, snapshots, shares) and the pipeline's tables. */
async function everything(s: CrossAccountScenario) {
  const { h } = s;
  const clusters = async (client: typeof h.rds extends (r: string) => infer C ? C : never) =>
    ((await client.send(new DescribeDBClustersCommand({}))).DBClusters ?? []).map((c: DBCluster) => [c.DBClusterIdentifier, c.Status, c.TagList]);
  return {
    a: {
      snapshots: { [SOURCE_REGION]: await snapshotsInA(s, SOURCE_REGION), [TARGET_REGION]: await snapshotsInA(s, TARGET_REGION) },
      clusters: await clusters(s.source.rds(s.source.sourceRegion)),
    },
    b: {
      snapshots: ((await h.rds(TARGET_REGION).send(new DescribeDBClusterSnapshotsCommand({}))).DBClusterSnapshots ?? [])
        .map((x) => x.DBClusterSnapshotIdentifier),
      shared: await sharedWithB(h),
      clusters: await clusters(h.rds(TARGET_REGION)),
    },
    state: await h.stateItems(),
  };
}

function tags(resource: { TagList?: Array<{ Key?: string; Value?: string }> } | undefined): Record<string, string> {
  return Object.fromEntries((resource?.TagList ?? []).map((t) => [t.Key!, t.Value!]));
}

/** The calls made as the companion's role, as `Function action` lines. */
function callsAsSourceRole(s: CrossAccountScenario): string[] {
  return s.h.iamCalls.filter((c) => c.assumedRole?.roleArn === s.source.roleArn)
    .map((c) => `${c.functionLogicalId.replace(/^.*Handlers/, '').replace(/[0-9A-F]{8}$/, '')} ${c.action}`);
}

function sharedCopyArn(s: CrossAccountScenario, operationId: string): string {
  return `arn:aws:rds:${TARGET_REGION}:${s.source.account}:cluster-snapshot:${shareSnapshotIdentifier('staging-aurora', operationId)}`;
}

/** What is in A's pipeline region, and shared with B, when the restore starts. */
interface DuringRestore {
  readonly inA: Record<string, string>;
  readonly shared: string[];
}

/**
 * Runs `executionName`, recording before RestoreSnapshot what is in A's pipeline region and what B sees shared, and
 * checks the run ends with nothing left in A but the source's own snapshots.
 */
async function runAndCheckCleanup(s: CrossAccountScenario, executionName: string): Promise<{ run: PipelineRun; duringRestore?: DuringRestore }> {
  const { h } = s;
  const sourceSnapshots = await snapshotsInA(s, s.source.sourceRegion);
  let duringRestore: DuringRestore | undefined;
  const run = await h.run({ requestedBy: 'nightly' }, {
    executionName,
    beforeTask: async (state) => {
      if (state !== 'RestoreSnapshot' || duringRestore) return;
      duringRestore = { inA: await snapshotsInA(s, TARGET_REGION), shared: await sharedWithB(h) };
    },
  });
  // Nothing of the run is left in A, or shared with B; the source's snapshots are as they were.
  expect(await snapshotsInA(s, s.source.sourceRegion)).toEqual(sourceSnapshots);
  if (s.source.sourceRegion !== TARGET_REGION) expect(await snapshotsInA(s, TARGET_REGION)).toEqual({});
  expect(await sharedWithB(h)).toEqual([]);
  return { run, duringRestore };
}

/** The status change EventBridge delivers for a stopped execution, through the notification function. */
async function deliverStatusChange(h: E2EHarness, run: PipelineRun, status: 'ABORTED' | 'TIMED_OUT') {
  const event = statusChangeEvent({
    executionArn: run.executionArn,
    stateMachineArn: h.machine.arn,
    name: run.executionName,
    status,
    startDate: run.events.find((e) => e.type === 'ExecutionStarted')!.timestamp,
    stopDate: run.events[run.events.length - 1].timestamp,
    account: h.resolver.account,
    region: h.resolver.region,
  });
  const inv = await h.invoke('SnsNotification', event);
  if (inv.error) throw new Error(`sns-notification failed: ${inv.error.errorType}: ${inv.error.errorMessage}\n${inv.logs.join('\n')}`);
  return inv;
}

describe('production in another account', () => {
  test('11a. A (us-east-1) → B (eu-west-1): restored from the shareable copy; the copy and the share are gone afterwards; every call within the policies', async () => {
    const s = await scenario();
    const { h, source } = s;
    const shareId = shareSnapshotIdentifier('staging-aurora', 'xacct-1');
    const { run, duringRestore } = await runAndCheckCleanup(s, 'xacct-1');
    expectSucceeded(run);
    expect(run.path).toContain('CopySnapshot');
    // One copy in all: made in A, in the pipeline's region, on the share key, shared with B only, restored from in B.
    expect(duringRestore).toEqual({ inA: { [shareId]: 'available' }, shared: [sharedCopyArn(s, 'xacct-1')] });
    const target = (await h.rds(TARGET_REGION).send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'staging-aurora' }))).DBClusters![0];
    expect(tags(target)).toMatchObject({ [PipelineTag.OPERATION_ID]: 'xacct-1', [PipelineTag.PIPELINE]: h.config.pipelineId });
    // Re-encrypted by the restore into B's own key.
    expect(target).toMatchObject({ StorageEncrypted: true, KmsKeyId: h.config.restore.kmsKeyArn });
    expect(h.config.restore.kmsKeyArn).toMatch(new RegExp(`^arn:aws:kms:${TARGET_REGION}:${ACCOUNT}:key/`));
    const restore = h.iamCalls.find((c) => c.action === 'rds:RestoreDBClusterFromSnapshot')!;
    expect(restore.assumedRole).toBeUndefined();
    expect(restore.params.SnapshotIdentifier).toBe(sharedCopyArn(s, 'xacct-1'));
    // Nothing is copied in B.
    expect(h.iamCalls.filter((c) => !c.assumedRole && c.action === 'rds:CopyDBClusterSnapshot')).toEqual([]);
    // What the companion's role did, by function (each call allowed by its policies: checked after the run).
    const asRole = callsAsSourceRole(s);
    expect(asRole).toEqual(expect.arrayContaining([
      'CopySnapshot rds:CopyDBClusterSnapshot', 'CheckCopyStatus rds:ModifyDBClusterSnapshotAttribute', 'ArchiveSnapshot rds:DeleteDBClusterSnapshot',
    ]));
    expect(asRole.filter((c) => c.endsWith('rds:ModifyDBClusterSnapshotAttribute'))).toHaveLength(2); // shared, then unshared
    expect(new Set(h.iamCalls.filter((c) => c.action === 'sts:AssumeRole').map((c) => c.params.RoleArn))).toEqual(new Set([source.roleArn]));
    expect(h.iamCalls.filter((c) => c.unmapped)).toEqual([]);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem('xacct-1')).toMatchObject({ status: 'SUCCEEDED' });
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({ status: 'SUCCEEDED', operationId: 'xacct-1', snapshot: { identifier: 'prod-aurora-new' } });
    expect(h.assumedRoleSecrets.length).toBeGreaterThan(0);
    expect(message.archive).toEqual({ action: 'deleted', snapshotIdentifier: shareId });
    expect(await auditTrail(h, 'xacct-1')).toEqual([
      'SnapshotCheck:SUCCEEDED', 'CopySnapshot:SUCCEEDED', 'CheckCopyStatus:SUCCEEDED', 'RestoreSnapshot:IN_PROGRESS', 'CheckRestoreStatus:IN_PROGRESS',
      'CheckRestoreStatus:SUCCEEDED', 'SetupDbUsers:SUCCEEDED', 'ValidateRestore:SUCCEEDED', 'ArchiveSnapshot:SUCCEEDED', 'SnsNotification:SUCCEEDED',
    ]);
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11b. A and B both in eu-west-1, the pipeline given only sourceAccount: still a shareable copy (never the production snapshot itself), restored from, released', async () => {
    const s = await scenario({ sourceRegion: TARGET_REGION, defaultNames: true });
    const { h } = s;
    const shareId = shareSnapshotIdentifier('staging-aurora', 'same-1');
    const { run, duringRestore } = await runAndCheckCleanup(s, 'same-1');
    expectSucceeded(run);
    expect(duringRestore!.inA[shareId]).toBe('available');
    expect(duringRestore!.shared).toEqual([sharedCopyArn(s, 'same-1')]);
    expect(Object.keys(await snapshotsInA(s, TARGET_REGION)).filter((id) => id.startsWith('arp-'))).toEqual([]);
    expect(h.iamCalls.find((c) => c.action === 'rds:RestoreDBClusterFromSnapshot')!.params.SnapshotIdentifier).toBe(sharedCopyArn(s, 'same-1'));
    // The role and the key were found by their computed names: the copy went into the companion's key by its alias.
    const name = sourceAccessName('prod-aurora', ACCOUNT, TARGET_REGION);
    expect(s.source.roleArn).toBe(`arn:aws:iam::${s.source.account}:role/${name}`);
    expect(h.iamCalls.filter((c) => c.action === 'sts:AssumeRole').map((c) => c.params.RoleArn)).toContain(s.source.roleArn);
    expect(h.iamCalls.find((c) => c.action === 'rds:CopyDBClusterSnapshot')!.params.KmsKeyId).toBe(`arn:aws:kms:${TARGET_REGION}:${s.source.account}:alias/${name}`);
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11c. the restore refused after sharing (the share key\'s policy no longer admits B): ShareKeyNotAccessible; released in A; the target as before', async () => {
    const s = await scenario();
    const { h, source } = s;
    await seedTarget(h, world, { tags: [{ Key: PipelineTag.PIPELINE, Value: h.config.pipelineId }] });
    // Someone narrowed the share key's policy to account A alone after deploying.
    const policy = source.keyPolicies.get(source.shareKeyArn)!;
    const statements = policy.Statement as Array<{ Principal?: { AWS?: unknown } }>;
    const own = { ...policy, Statement: statements.filter((st) => !JSON.stringify(st.Principal ?? {}).includes(ACCOUNT)) };
    expect(own.Statement.length).toBeLessThan(policy.Statement.length);
    await awsJsonCall(source.json(TARGET_REGION), 'kms', 'PutKeyPolicy', { KeyId: source.shareKeyArn, PolicyName: 'default', Policy: JSON.stringify(own) });
    const before = await everything(s);

    const { run } = await runAndCheckCleanup(s, 'xfail-1');
    expect(run.status).toBe('FAILED');
    expect(run.path).toContain('CheckCopyStatus');
    expect(run.error!.Error).toBe('ShareKeyNotAccessible');
    const cause = JSON.parse(run.error!.Cause).errorMessage as string;
    expect(cause).toContain(source.shareKeyArn);
    expect(cause).toContain(ACCOUNT);
    // The target, its tags and everything else as before the run (the shareable copy made and released in between).
    const after = await everything(s);
    expect(after.a).toEqual(before.a);
    expect(after.b).toEqual(before.b);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem('xfail-1')).toMatchObject({ status: 'FAILED', error_name: 'ShareKeyNotAccessible' });
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({
      status: 'FAILED',
      error: { name: 'ShareKeyNotAccessible' },
      snapshotCopy: { identifier: shareSnapshotIdentifier('staging-aurora', 'xfail-1'), account: source.account, action: 'deleted' },
    });
    expect(await s.leaks([run])).toEqual([]);
  });

  test.each(['ABORTED', 'TIMED_OUT'] as const)('11d. an execution stopped mid-restore (%s): its status change releases the shareable copy in A', async (status) => {
    const s = await scenario({ props: { replaceStrategy: ReplaceStrategy.DELETE_FIRST } });
    const { h, source } = s;
    await s.target!.hold('creating');
    const shareId = shareSnapshotIdentifier('staging-aurora', 'stop-1');

    const run = await runAndStop(h, 'stop-1', 'CheckRestoreStatus');
    expect(run.status).toBe('ABORTED');
    // What a stopped execution leaves: its lock, the shareable copy in A, shared with B.
    expect(await h.stateItem(LOCK)).toMatchObject({ holder_operation_id: 'stop-1' });
    expect(await snapshotsInA(s, TARGET_REGION)).toEqual({ [shareId]: 'available' });
    expect(await sharedWithB(h)).toEqual([sharedCopyArn(s, 'stop-1')]);

    const settled = await deliverStatusChange(h, run, status);
    expect(settled.result).toMatchObject({
      status, operationId: 'stop-1', lockReleased: true, snapshotCopy: { identifier: shareId, account: source.account, action: 'deleted' },
    });
    expect(await snapshotsInA(s, TARGET_REGION)).toEqual({});
    expect(await sharedWithB(h)).toEqual([]);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await h.stateItem('stop-1')).toMatchObject({ status: 'FAILED', error_name: status === 'ABORTED' ? 'ExecutionAborted' : 'ExecutionTimedOut' });
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({ status, snapshotCopy: { identifier: shareId, account: source.account, action: 'deleted' } });
    // Delivered again: nothing left to release, nothing sent.
    const again = await deliverStatusChange(h, run, status);
    expect(again.result).toMatchObject({ lockReleased: false, skipped: expect.stringContaining('already settled') });
    expect(await notifications(h)).toEqual([]);
    expect(callsAsSourceRole(s)).toEqual(expect.arrayContaining(['SnsNotification rds:DeleteDBClusterSnapshot']));
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11d2. stopped, and the companion\'s role deleted meanwhile: the notification says what is left in A and how to remove it', async () => {
    const s = await scenario({ props: { replaceStrategy: ReplaceStrategy.DELETE_FIRST } });
    const { h, source } = s;
    await s.target!.hold('creating');
    const shareId = shareSnapshotIdentifier('staging-aurora', 'stop-2');
    const run = await runAndStop(h, 'stop-2', 'CheckRestoreStatus');
    expect(run.status).toBe('ABORTED');
    const roleName = source.roleArn.split('/').pop()!;
    const iam = source.json('us-east-1');
    for (const { name } of source.roles[0].policies) {
      await awsQueryCall(iam, 'iam', 'DeleteRolePolicy', { RoleName: roleName, PolicyName: name.replace(/[^\w+=,.@-]/g, '-') });
    }
    await awsQueryCall(iam, 'iam', 'DeleteRole', { RoleName: roleName });

    const settled = await deliverStatusChange(h, run, 'ABORTED');
    expect(settled.result).toMatchObject({ status: 'ABORTED', lockReleased: true, snapshotCopy: { identifier: shareId, account: source.account, action: 'failed' } });
    // Still there, still shared: the pipeline could not act in A.
    expect(await snapshotsInA(s, TARGET_REGION)).toEqual({ [shareId]: 'available' });
    const [message] = await notifications(h);
    expect(message.snapshotCopy.advice).toContain(`aws rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier ${shareId} --region ${TARGET_REGION}`);
    expect(message.snapshotCopy.advice).toContain(`--values-to-remove ${ACCOUNT}`);
    expect(message.snapshotCopy.advice).toContain(`account ${source.account}`);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11e. a companion whose role does not trust B: SourceRoleNotAssumable before any change (no lock, no copy in A)', async () => {
    const s = await scenario({ source: { pipelineAccount: '222222222222' } });
    const { h, source } = s;
    const before = await everything(s);
    const run = await h.run({ requestedBy: 'nightly' }, { executionName: 'untrusted-1' });
    expect(run.status).toBe('FAILED');
    expect(run.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
    expect(run.error!.Error).toBe('SourceRoleNotAssumable');
    const cause = JSON.parse(run.error!.Cause).errorMessage as string;
    expect(cause).toContain(`cannot assume role ${source.roleArn} in account ${source.account}`);
    expect(cause).toContain(`pipelineAccount: '${ACCOUNT}'`);
    const after = await everything(s);
    expect(after.a).toEqual(before.a);
    expect(after.b).toEqual(before.b);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(callsAsSourceRole(s)).toEqual([]);
    expect(await auditTrail(h, 'untrusted-1')).toEqual(['SnapshotCheck:FAILED', 'SnsNotification:SUCCEEDED']);
    const [message, ...more] = await notifications(h);
    expect(more).toEqual([]);
    expect(message).toMatchObject({ status: 'FAILED', error: { name: 'SourceRoleNotAssumable', cause } });
    expect(message.snapshotCopy).toBeUndefined();
    expect(await s.leaks([run])).toEqual([]);
  });

  test('11f. an unencrypted source snapshot: SourceSnapshotUnencrypted before any change (its copy could be shared with anyone)', async () => {
    const s = await scenario({ sourceEncrypted: false });
    const { h } = s;
    const before = await everything(s);
    const run = await h.run({ requestedBy: 'nightly' }, { executionName: 'plain-1' });
    expect(run.status).toBe('FAILED');
    expect(run.path).toEqual(['SnapshotCheck', 'SnapshotCheckFailed', 'NotifyFailure', 'Failed']);
    expect(run.error!.Error).toBe('SourceSnapshotUnencrypted');
    expect(JSON.parse(run.error!.Cause).errorMessage).toContain('prod-aurora-new');
    const after = await everything(s);
    expect(after.a).toEqual(before.a);
    expect(after.b).toEqual(before.b);
    expect(await h.stateItem(LOCK)).toBeUndefined();
    expect(callsAsSourceRole(s).filter((c) => !/ rds:Describe|kms:DescribeKey/.test(c))).toEqual([]);
  });

  test('11g. a dry run reports the cross-account checks and changes nothing; with an untrusting role it fails on source.role', async () => {
    const s = await scenario();
    const { h } = s;
    const before = await everything(s);
    const run = await h.run({ dryRun: true, requestedBy: 'first deploy' }, { executionName: 'dry-x' });
    expect(run.status).toBe('SUCCEEDED');
    expect(await everything(s)).toEqual(before);
    const [message] = await notifications(h);
    expect(message).toMatchObject({ status: 'DRY_RUN', dryRun: { passed: true } });
    const byId = Object.fromEntries((message.checks as Array<{ id: string; status: string; reason: string }>).map((c) => [c.id, c]));
    for (const id of [PreflightCheckId.SOURCE_ROLE, PreflightCheckId.SOURCE_ENCRYPTED, PreflightCheckId.SHARE_KEY]) expect([id, byId[id]?.status]).toEqual([id, 'PASSED']);

    const broken = await scenario({ source: { pipelineAccount: '222222222222' } });
    const dry = await broken.h.run({ dryRun: true }, { executionName: 'dry-untrusted' });
    expect(dry.status).toBe('FAILED');
    expect(dry.error!.Error).toBe('PreflightFailed');
    const [brokenMessage] = await notifications(broken.h);
    const failed = (brokenMessage.checks as Array<{ id: string; status: string; reason: string }>).filter((c) => c.status === 'FAILED');
    // Only the role fails; the snapshot was not looked for (its check says so instead of asking for a snapshot).
    expect(failed.map((c) => c.id)).toEqual([PreflightCheckId.SOURCE_ROLE]);
    expect(failed[0].reason).toContain(`cannot assume role ${broken.source.roleArn}`);
    const checks = brokenMessage.checks as Array<{ id: string; status: string; reason: string }>;
    const available = checks.find((c) => c.id === PreflightCheckId.SNAPSHOT_AVAILABLE);
    expect(available).toMatchObject({ status: 'SKIPPED', reason: expect.stringContaining('see source.role') });
    expect(await broken.h.stateItem(LOCK)).toBeUndefined();
  });
});
