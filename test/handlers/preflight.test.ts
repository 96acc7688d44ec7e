/*
 * The preflight's checks, each passing and failing, against mocked SDK clients and a mocked EC2 query
 * (test/handlers/ec2-query.test.ts runs that against moto; the e2e tests run every check against moto).
 */
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  DBCluster,
  DescribeAccountAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBEngineVersionsCommand,
  DescribeDBSubnetGroupsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ACCOUNT,
  awsError,
  DEFAULT_DB_USERS,
  makeConfig,
  makeSnapshotInfo,
  MASTER_SECRET_ARN,
  PIPELINE_ID,
  SOURCE_REGION,
  TARGET_REGION,
  USER_SECRET_ARN,
  useConfig,
} from './support/factories';
import * as ec2Query from '../../lambda-src/lib/ec2-query';
import { errors } from '../../lambda-src/lib/errors';
import { MAX_COPIES_IN_FLIGHT, preflightError, PreflightInput, runPreflight } from '../../lambda-src/lib/preflight';
import { PipelineConfig, PipelineErrorName, PipelineTag, PreflightCheckId, PreflightCheckResult, PreflightCheckStatus, ReplaceStrategy } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const kmsMock = mockClient(KMSClient);
/** EC2's DescribeSecurityGroups (healthy(): only sg-123 exists). */
const ec2Mock = jest.spyOn(ec2Query, 'describeSecurityGroupIds');
const ec2Error = (code: string, message = `${code} raised by EC2`) => new ec2Query.Ec2ServiceError(code, message, 400);
const smMock = mockClient(SecretsManagerClient);

const COPY_KEY = `arn:aws:kms:${TARGET_REGION}:${ACCOUNT}:key/copy-key`;
const SOURCE_KEY = `arn:aws:kms:${SOURCE_REGION}:${ACCOUNT}:key/source-key`;
const SECRET_VALUE = 'pr3flight-never-shown';

const key = (arn: string, overrides: Record<string, unknown> = {}): any => ({
  KeyMetadata: { KeyId: arn.split('/')[1], Arn: arn, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER', ...overrides },
});
const quotas = (snapshots: [number, number], clusters: [number, number]) => ({
  AccountQuotas: [
    { AccountQuotaName: 'ManualClusterSnapshots', Used: snapshots[0], Max: snapshots[1] },
    { AccountQuotaName: 'DBClusters', Used: clusters[0], Max: clusters[1] },
  ],
});
const ownedTarget = (overrides: Partial<DBCluster> = {}): DBCluster => ({ DBClusterIdentifier: 'staging-db', Status: 'available', DeletionProtection: false, ...overrides });
const ownTags = [{ Key: PipelineTag.PIPELINE, Value: PIPELINE_ID }];

/** A healthy account: every check passes. */
function healthy() {
  rdsMock.on(DescribeDBSubnetGroupsCommand).resolves({
    DBSubnetGroups: [{ DBSubnetGroupName: 'db-subnets', Subnets: [{ SubnetAvailabilityZone: { Name: 'eu-central-1a' } }, { SubnetAvailabilityZone: { Name: 'eu-central-1b' } }] }],
  });
  rdsMock.on(DescribeAccountAttributesCommand).resolves(quotas([10, 100], [3, 40]));
  rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'copying' }, { Status: 'available' }] });
  rdsMock.on(DescribeDBEngineVersionsCommand).resolves({
    DBEngineVersions: [{ EngineVersion: '16.4', ValidUpgradeTarget: [{ EngineVersion: '16.6' }, { EngineVersion: '17.2' }] }],
  });
  kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).resolves(key(COPY_KEY));
  kmsMock.on(DescribeKeyCommand, { KeyId: SOURCE_KEY }).resolves(key(SOURCE_KEY));
  ec2Mock.mockImplementation(async (_region, ids) => ids.filter((id) => id === 'sg-123'));
  smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ password: SECRET_VALUE, username: 'app' }) });
}

function input(overrides: Partial<PreflightInput> = {}, config: Partial<PipelineConfig> = {}): PreflightInput {
  return {
    config: makeConfig(config),
    snapshot: makeSnapshotInfo({ kmsKeyId: SOURCE_KEY, storageEncrypted: true, engineVersion: '16.4' }),
    users: DEFAULT_DB_USERS,
    ...overrides,
  };
}

async function check(id: PreflightCheckId, inp: PreflightInput = input()): Promise<PreflightCheckResult> {
  const { report } = await runPreflight(inp);
  expect(JSON.stringify(report)).not.toContain(SECRET_VALUE);
  return report.checks.find((c) => c.id === id)!;
}

beforeEach(() => {
  for (const m of [rdsMock, kmsMock, smMock]) m.reset();
  ec2Mock.mockReset();
  useConfig();
  healthy();
});

describe('preflight', () => {
  test('a healthy configuration passes every check, in the contract\'s order, and names no secret value', async () => {
    const { report, targetError } = await runPreflight(input({}, { restore: { ...makeConfig().restore, engineVersion: '16.6' } }));
    expect(targetError).toBeUndefined();
    expect(report.passed).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual(Object.values(PreflightCheckId));
    expect(report.checks.filter((c) => c.status === PreflightCheckStatus.FAILED)).toEqual([]);
    expect(report.summary).toMatch(/^All \d+ applicable preflight checks passed/);
    expect(JSON.stringify(report)).not.toContain(SECRET_VALUE);
  });

  test('the failure summary lists every failed check by id with its fix, and becomes PreflightFailed', async () => {
    kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).rejects(awsError('NotFoundException'));
    rdsMock.on(DescribeDBSubnetGroupsCommand).rejects(awsError('DBSubnetGroupNotFoundFault'));
    const { report } = await runPreflight(input());
    expect(report.passed).toBe(false);
    expect(report.checks.filter((c) => c.status === PreflightCheckStatus.FAILED).map((c) => c.id))
      .toEqual([PreflightCheckId.COPY_KEY, PreflightCheckId.SUBNET_GROUP]);
    expect(report.summary).toMatch(/^2 of 18 preflight checks failed, before anything was changed: \[kms\.copy-key\] .* Fix: .* \[network\.subnet-group\] .* Fix: /);
    const err = preflightError(report);
    expect(err.name).toBe(PipelineErrorName.PREFLIGHT_FAILED);
    expect(err.message).toBe(report.summary);
  });

  describe('snapshot', () => {
    test('available and engine: passed with the resolved snapshot', async () => {
      expect(await check(PreflightCheckId.SNAPSHOT_AVAILABLE)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('is available') });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('aurora-postgresql') });
    });

    test('available: failed with the resolution error; the checks that need the snapshot are skipped', async () => {
      const inp = input({ snapshot: undefined, snapshotError: errors.snapshotNotFound('Snapshot nope does not exist.') });
      expect(await check(PreflightCheckId.SNAPSHOT_AVAILABLE, inp)).toMatchObject({ status: 'FAILED', reason: 'Snapshot nope does not exist.', fix: expect.any(String) });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE, inp)).toMatchObject({ status: 'SKIPPED' });
      expect(await check(PreflightCheckId.SOURCE_KEY, inp)).toMatchObject({ status: 'SKIPPED' });
      expect(await check(PreflightCheckId.SNAPSHOT_AVAILABLE, input({ snapshot: undefined }))).toMatchObject({ status: 'FAILED', reason: 'No snapshot was resolved.' });
    });

    test('available: skipped, pointing at source.role, when the source account\'s role could not be assumed', async () => {
      const err = errors.sourceRoleNotAssumable('The pipeline cannot assume role arn:aws:iam::111111111111:role/x.');
      const inp = input({ snapshot: undefined, snapshotError: err, sourceRoleError: err });
      expect(await check(PreflightCheckId.SNAPSHOT_AVAILABLE, inp)).toMatchObject({ status: 'SKIPPED', reason: expect.stringContaining('see source.role') });
    });

    test('engine: failed for another engine (the snapshot itself is there)', async () => {
      const inp = input({ snapshot: undefined, snapshotError: errors.unsupportedEngine('Snapshot s is of engine \'aurora-mysql\'.') });
      expect(await check(PreflightCheckId.SNAPSHOT_AVAILABLE, inp)).toMatchObject({ status: 'PASSED' });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE, inp)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('aurora-mysql') });
    });

    test('engine version: skipped unset, passed when equal or a valid upgrade target, failed otherwise', async () => {
      const withVersion = (v: string) => input({}, { restore: { ...makeConfig().restore, engineVersion: v } });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE_VERSION)).toMatchObject({ status: 'SKIPPED' });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE_VERSION, withVersion('16.4'))).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('snapshot\'s version') });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE_VERSION, withVersion('17.2'))).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('valid upgrade target') });
      expect(rdsMock.commandCalls(DescribeDBEngineVersionsCommand)[0].args[0].input).toEqual({ Engine: 'aurora-postgresql', EngineVersion: '16.4' });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE_VERSION, withVersion('15.2'))).toMatchObject({
        status: 'FAILED', reason: expect.stringContaining('valid: 16.6, 17.2'), fix: expect.stringContaining('16.6, 17.2'),
      });
      rdsMock.on(DescribeDBEngineVersionsCommand).resolves({ DBEngineVersions: [] });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE_VERSION, withVersion('17.2'))).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('does not list') });
      expect(await check(PreflightCheckId.SNAPSHOT_ENGINE_VERSION, { ...withVersion('17.2'), snapshot: undefined })).toMatchObject({ status: 'SKIPPED' });
    });
  });

  describe('keys', () => {
    test('copy key: passed when enabled and symmetric', async () => {
      expect(await check(PreflightCheckId.COPY_KEY)).toMatchObject({ status: 'PASSED' });
      expect(kmsMock.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input.KeyId)).toContain(COPY_KEY);
    });

    test.each([
      ['missing', () => kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).rejects(awsError('NotFoundException')), 'does not exist'],
      ['not describable', () => kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).rejects(awsError('AccessDeniedException')), 'may not describe'],
      ['disabled', () => kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).resolves(key(COPY_KEY, { KeyState: 'Disabled' })), 'is Disabled'],
      ['pending deletion', () => kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).resolves(key(COPY_KEY, { KeyState: 'PendingDeletion' })), 'PendingDeletion'],
      ['asymmetric', () => kmsMock.on(DescribeKeyCommand, { KeyId: COPY_KEY }).resolves(key(COPY_KEY, { KeySpec: 'RSA_2048' })), 'symmetric'],
    ])('copy key: failed when %s', async (_, arrange, reason) => {
      arrange();
      expect(await check(PreflightCheckId.COPY_KEY)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining(reason), fix: expect.any(String) });
    });

    test('source key: a customer key is described in the source region; the AWS managed key passes; unencrypted is skipped', async () => {
      expect(await check(PreflightCheckId.SOURCE_KEY)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('customer managed key') });
      kmsMock.on(DescribeKeyCommand, { KeyId: SOURCE_KEY }).resolves(key(SOURCE_KEY, { KeyManager: 'AWS' }));
      expect(await check(PreflightCheckId.SOURCE_KEY)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('AWS managed key') });
      const plain = input({ snapshot: makeSnapshotInfo({ storageEncrypted: false, kmsKeyId: undefined }) });
      expect(await check(PreflightCheckId.SOURCE_KEY, plain)).toMatchObject({ status: 'SKIPPED' });
    });

    test('source key: failed when the pipeline may not use it, or it is disabled', async () => {
      kmsMock.on(DescribeKeyCommand, { KeyId: SOURCE_KEY }).rejects(awsError('AccessDeniedException'));
      expect(await check(PreflightCheckId.SOURCE_KEY)).toMatchObject({ status: 'FAILED', fix: expect.stringContaining('key policy') });
      kmsMock.on(DescribeKeyCommand, { KeyId: SOURCE_KEY }).resolves(key(SOURCE_KEY, { KeyState: 'Disabled' }));
      expect(await check(PreflightCheckId.SOURCE_KEY)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('Disabled') });
    });
  });

  describe('network', () => {
    test('subnet group: passed with two zones; failed when missing or in one zone', async () => {
      expect(await check(PreflightCheckId.SUBNET_GROUP)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('eu-central-1a, eu-central-1b') });
      rdsMock.on(DescribeDBSubnetGroupsCommand).resolves({ DBSubnetGroups: [{ Subnets: [{ SubnetAvailabilityZone: { Name: 'eu-central-1a' } }, { SubnetAvailabilityZone: { Name: 'eu-central-1a' } }] }] });
      expect(await check(PreflightCheckId.SUBNET_GROUP)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('1 Availability Zone (eu-central-1a)') });
      rdsMock.on(DescribeDBSubnetGroupsCommand).rejects(awsError('DBSubnetGroupNotFoundFault'));
      expect(await check(PreflightCheckId.SUBNET_GROUP)).toMatchObject({ status: 'FAILED', reason: `DB subnet group db-subnets does not exist in ${TARGET_REGION}.` });
    });

    test('security groups: passed when all exist; failed naming the missing ones; skipped with none', async () => {
      expect(await check(PreflightCheckId.SECURITY_GROUPS)).toMatchObject({ status: 'PASSED' });
      const two = input({}, { restore: { ...makeConfig().restore, securityGroupIds: ['sg-123', 'sg-gone'] } });
      ec2Mock.mockImplementation(async (_region, ids) => {
        if (ids.includes('sg-gone')) throw ec2Error('InvalidGroup.NotFound');
        return ids;
      });
      expect(await check(PreflightCheckId.SECURITY_GROUPS, two)).toMatchObject({ status: 'FAILED', reason: expect.stringMatching(/^Security group sg-gone of the restored cluster does not exist/) });
      expect(ec2Mock.mock.calls).toContainEqual([TARGET_REGION, ['sg-gone']]);
      ec2Mock.mockImplementation(async (_region, ids) => {
        if (ids.includes('sg-gone')) throw ec2Error('InvalidGroupId.Malformed');
        return [];
      });
      expect(await check(PreflightCheckId.SECURITY_GROUPS, two)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('sg-123, sg-gone') });
      const none = input({}, { restore: { ...makeConfig().restore, securityGroupIds: [] } });
      expect(await check(PreflightCheckId.SECURITY_GROUPS, none)).toMatchObject({ status: 'SKIPPED' });
    });
  });

  describe('quotas', () => {
    test('manual cluster snapshots: counts the copy and the final snapshot this run takes', async () => {
      expect(await check(PreflightCheckId.SNAPSHOT_QUOTA)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('this run takes 1 (the snapshot copy)') });
      rdsMock.on(DescribeAccountAttributesCommand).resolves(quotas([100, 100], [3, 40]));
      expect(await check(PreflightCheckId.SNAPSHOT_QUOTA)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('100 of at most 100'), fix: expect.stringContaining('Delete manual cluster snapshots') });
      rdsMock.on(DescribeAccountAttributesCommand).resolves(quotas([99, 100], [3, 40]));
      const replacing = input({ target: ownedTarget(), targetTags: ownTags }, { finalSnapshotOnDelete: true });
      expect(await check(PreflightCheckId.SNAPSHOT_QUOTA, replacing)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('takes 2 more (the snapshot copy and the final snapshot of the target)') });
      const sameRegion = input({}, { targetRegion: SOURCE_REGION });
      rdsMock.on(DescribeAccountAttributesCommand).resolves(quotas([100, 100], [3, 40]));
      expect(await check(PreflightCheckId.SNAPSHOT_QUOTA, sameRegion)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('this run takes 0') });
      rdsMock.on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [] });
      expect(await check(PreflightCheckId.SNAPSHOT_QUOTA)).toMatchObject({ status: 'SKIPPED' });
    });

    test('clusters: a new target and a swap need room for one more; replacing by DELETE_FIRST does not', async () => {
      rdsMock.on(DescribeAccountAttributesCommand).resolves(quotas([1, 100], [40, 40]));
      expect(await check(PreflightCheckId.CLUSTER_QUOTA)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('40 of at most 40 DB clusters') });
      const existing = { target: ownedTarget(), targetTags: ownTags };
      expect(await check(PreflightCheckId.CLUSTER_QUOTA, input(existing, { replaceStrategy: ReplaceStrategy.DELETE_FIRST })))
        .toMatchObject({ status: 'PASSED', reason: expect.stringContaining('adds 0') });
      expect(await check(PreflightCheckId.CLUSTER_QUOTA, input(existing, { replaceStrategy: ReplaceStrategy.SWAP })))
        .toMatchObject({ status: 'FAILED', reason: expect.stringContaining('a cluster beside the target') });
      rdsMock.on(DescribeAccountAttributesCommand).resolves({});
      expect(await check(PreflightCheckId.CLUSTER_QUOTA)).toMatchObject({ status: 'SKIPPED' });
    });

    test(`copies in flight: failed at ${MAX_COPIES_IN_FLIGHT} copying into the target region; skipped without a copy`, async () => {
      expect(await check(PreflightCheckId.COPIES_IN_FLIGHT)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('1 cluster snapshot copies in flight') });
      expect(rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand)[0].args[0].input).toMatchObject({ SnapshotType: 'manual' });
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: Array.from({ length: MAX_COPIES_IN_FLIGHT }, () => ({ Status: 'copying' })) });
      expect(await check(PreflightCheckId.COPIES_IN_FLIGHT)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining(`at most ${MAX_COPIES_IN_FLIGHT} per destination region`) });
      expect(await check(PreflightCheckId.COPIES_IN_FLIGHT, input({}, { targetRegion: SOURCE_REGION }))).toMatchObject({ status: 'SKIPPED' });
    });
  });

  describe('target', () => {
    test('ownership: passed absent or owned; failed (with the run\'s dedicated error) when not replaceable or not owned', async () => {
      expect(await check(PreflightCheckId.TARGET_OWNERSHIP)).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('does not exist') });
      expect(await check(PreflightCheckId.TARGET_OWNERSHIP, input({ target: ownedTarget(), targetTags: ownTags }))).toMatchObject({ status: 'PASSED' });
      const foreign = await runPreflight(input({ target: ownedTarget(), targetTags: [{ Key: PipelineTag.PIPELINE, Value: 'other' }] }));
      expect(foreign.targetError?.name).toBe(PipelineErrorName.TARGET_NOT_OWNED);
      expect(foreign.report.checks.find((c) => c.id === PreflightCheckId.TARGET_OWNERSHIP)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('TargetNotOwned') });
      const noReplace = await runPreflight(input({ target: ownedTarget(), targetTags: ownTags }, { replaceExistingTarget: false }));
      expect(noReplace.targetError?.name).toBe(PipelineErrorName.TARGET_ALREADY_EXISTS);
      expect(noReplace.report.checks.find((c) => c.id === PreflightCheckId.TARGET_OWNERSHIP)).toMatchObject({ status: 'FAILED', fix: expect.stringContaining('replaceExistingTarget') });
    });

    test('deletion protection: failed when on and the pipeline may not turn it off', async () => {
      expect(await check(PreflightCheckId.TARGET_DELETION_PROTECTION)).toMatchObject({ status: 'SKIPPED' });
      const target = (on: boolean) => ({ target: ownedTarget({ DeletionProtection: on }), targetTags: ownTags });
      expect(await check(PreflightCheckId.TARGET_DELETION_PROTECTION, input(target(false)))).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('is off') });
      expect(await check(PreflightCheckId.TARGET_DELETION_PROTECTION, input(target(true), { allowDisableDeletionProtection: true }))).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('turns it off') });
      expect(await check(PreflightCheckId.TARGET_DELETION_PROTECTION, input(target(true), { allowDisableDeletionProtection: false }))).toMatchObject({
        status: 'FAILED', fix: expect.stringContaining('--no-deletion-protection'),
      });
    });

    test('stopped: reported, never failed', async () => {
      expect(await check(PreflightCheckId.TARGET_STOPPED)).toMatchObject({ status: 'SKIPPED' });
      expect(await check(PreflightCheckId.TARGET_STOPPED, input({ target: ownedTarget({ Status: 'stopped' }), targetTags: ownTags }))).toMatchObject({
        status: 'PASSED', reason: expect.stringContaining('is stopped: the pipeline starts it'),
      });
      expect(await check(PreflightCheckId.TARGET_STOPPED, input({ target: ownedTarget(), targetTags: ownTags }))).toMatchObject({ status: 'PASSED', reason: expect.stringContaining('not stopped') });
    });
  });

  describe('secrets', () => {
    test('master: passed with the key "password"; failed unreadable or without it, naming the secret and key only', async () => {
      expect(await check(PreflightCheckId.MASTER_SECRET)).toMatchObject({ status: 'PASSED', reason: `Secret ${MASTER_SECRET_ARN} is readable and has the key "password".` });
      smMock.on(GetSecretValueCommand, { SecretId: MASTER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ pass: SECRET_VALUE }) });
      expect(await check(PreflightCheckId.MASTER_SECRET)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('no non-empty JSON key "password"') });
      smMock.on(GetSecretValueCommand, { SecretId: MASTER_SECRET_ARN }).rejects(awsError('AccessDeniedException'));
      expect(await check(PreflightCheckId.MASTER_SECRET)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('AccessDeniedException') });
    });

    test('users: every secret read with its keys; failed naming each bad secret; skipped without users', async () => {
      expect(await check(PreflightCheckId.USER_SECRETS)).toMatchObject({ status: 'PASSED' });
      smMock.on(GetSecretValueCommand, { SecretId: USER_SECRET_ARN }).rejects(awsError('ResourceNotFoundException'));
      expect(await check(PreflightCheckId.USER_SECRETS)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining(USER_SECRET_ARN) });
      const byKey = input({ users: [{ ...DEFAULT_DB_USERS[0], username: undefined, usernameKey: 'login', secretArn: MASTER_SECRET_ARN }] });
      expect(await check(PreflightCheckId.USER_SECRETS, byKey)).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('"login"') });
      expect(await check(PreflightCheckId.USER_SECRETS, input({ users: [] }))).toMatchObject({ status: 'SKIPPED' });
    });
  });

  describe('faults', () => {
    test('an unexpected AWS fault fails the check with AWS\'s answer; throttling and server faults are retried (thrown)', async () => {
      ec2Mock.mockRejectedValue(ec2Error('UnauthorizedOperation', 'not authorized to perform ec2:DescribeSecurityGroups'));
      expect(await check(PreflightCheckId.SECURITY_GROUPS)).toMatchObject({ status: 'FAILED', reason: expect.stringMatching(/^PermissionDenied: .*ec2:DescribeSecurityGroups/) });
      rdsMock.on(DescribeAccountAttributesCommand).rejects(awsError('ThrottlingException'));
      await expect(runPreflight(input())).rejects.toMatchObject({ name: 'ThrottlingException' });
      rdsMock.on(DescribeAccountAttributesCommand).rejects(awsError('InternalFailure', 'boom', 'server'));
      await expect(runPreflight(input())).rejects.toMatchObject({ name: PipelineErrorName.AWS_SERVICE_UNAVAILABLE });
    });
  });
});
