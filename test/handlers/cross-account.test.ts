/*
 * Cross-account mode (sourceAccount + AuroraRestoreSource), handler by handler, with the SDK mocked: the paths an
 * emulator cannot produce (STS refusals of every shape, RDS's share quota, KMSKeyNotAccessibleFault on the share key,
 * a role gone during the release) and what each call is sent. The whole flow runs against moto in
 * test/e2e/cross-account.test.ts.
 */
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CopyDBClusterSnapshotCommand,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  auditItems,
  awsError,
  DynamoDBDocumentClient,
  EXECUTION_ARN,
  makeCopyProgress,
  makeSnapshotInfo,
  makeState,
  makeStatusChangeEvent,
  OPERATION_ID,
  ownTags,
  PIPELINE_ID,
  resetBetweenTests,
  SOURCE_REGION,
  SOURCE_SNAPSHOT_ID,
  TARGET_REGION,
  useConfig,
} from './support/factories';
import { handler as archive } from '../../lambda-src/archive-snapshot';
import { handler as checkCopy } from '../../lambda-src/check-copy-status';
import { handler as copySnapshot } from '../../lambda-src/copy-snapshot';
import { shareSnapshotIdentifier } from '../../lambda-src/lib/naming';
import * as preflight from '../../lambda-src/lib/preflight';
import { runPreflight } from '../../lambda-src/lib/preflight';
import {
  assumeSourceRole, callerRoleOf, CREDENTIALS_RENEW_BEFORE_MS, forgetSourceCredentials, sessionName, sharedCopyArn, sourceAccountOf,
} from '../../lambda-src/lib/source-account';
import { handler as restore } from '../../lambda-src/restore-snapshot';
import { handler as snapshotCheck } from '../../lambda-src/snapshot-check';
import { handler as notify } from '../../lambda-src/sns-notification';
import { DryRunState, PipelineConfig, PipelineErrorName, PipelineState, PipelineTag, PreflightCheckId, PreflightCheckStatus } from '../../src/contracts';

const A = '111111111111';
const B = '123456789012';
const ROLE = `arn:aws:iam::${A}:role/restore-source-role`;
const SHARE_KEY = `arn:aws:kms:${TARGET_REGION}:${A}:key/share-key`;
const SHARE_ID = shareSnapshotIdentifier('staging-db', OPERATION_ID);
const SHARE_ARN = `arn:aws:rds:${TARGET_REGION}:${A}:cluster-snapshot:${SHARE_ID}`;
const CROSS = { sourceAccount: A, sourceRoleArn: ROLE, sourceShareKeyArn: SHARE_KEY, pipelineAccount: B };
const DENIED = `User: arn:aws:sts::${B}:assumed-role/Pipeline-SnapshotCheckRole-ABC/fn is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`;

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const stsMock = mockClient(STSClient);
const kmsMock = mockClient(KMSClient);
const snsMock = mockClient(SNSClient);

resetBetweenTests(rdsMock, ddbMock);
let config: PipelineConfig;
beforeEach(() => {
  forgetSourceCredentials();
  stsMock.reset();
  kmsMock.reset();
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  stsMock.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIA-SOURCE', SecretAccessKey: 'source-secret', SessionToken: 'source-token', Expiration: new Date(Date.now() + 3600_000) },
  });
  config = useConfig(CROSS);
});

const shareTags = (operationId = OPERATION_ID) => [...ownTags(operationId), { Key: PipelineTag.SHARE_OF, Value: 'prod-db' }];
function shareCopy(overrides: Record<string, unknown> = {}) {
  return { DBClusterSnapshotIdentifier: SHARE_ID, DBClusterSnapshotArn: SHARE_ARN, Status: 'available', KmsKeyId: SHARE_KEY, TagList: shareTags(), ...overrides };
}
/** The access key an RDS call was signed with. */
async function signedWith(call: { thisValue: unknown }): Promise<string | undefined> {
  // The pipeline's own clients use the default chain (no credentials in the test's environment).
  return (await (call.thisValue as RDSClient).config.credentials().catch(() => undefined))?.accessKeyId;
}
const crossState = (overrides: Partial<PipelineState> = {}) => makeState({ restoreSnapshotIdentifier: SHARE_ARN, ...overrides });

describe('lib/source-account', () => {
  test('the configuration names the source account, its role and key, and the account shares go to', () => {
    expect(sourceAccountOf(config)).toEqual({ account: A, roleArn: ROLE, shareKeyArn: SHARE_KEY, pipelineAccount: B, partition: 'aws' });
    expect(sourceAccountOf(useConfig())).toBeUndefined();
    expect(sharedCopyArn(config, sourceAccountOf(config)!, OPERATION_ID)).toBe(SHARE_ARN);
  });

  test('the role is assumed with a session named after the operation, and reused until 5 minutes before expiry', async () => {
    const source = sourceAccountOf(config)!;
    await assumeSourceRole(config, source, OPERATION_ID);
    await assumeSourceRole(config, source, OPERATION_ID);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0].args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: `arp-${OPERATION_ID}` });

    forgetSourceCredentials();
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIA-SOON', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + CREDENTIALS_RENEW_BEFORE_MS - 1000) },
    });
    await assumeSourceRole(config, source, OPERATION_ID);
    await assumeSourceRole(config, source, OPERATION_ID);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(3);
  });

  test('session names keep to what STS accepts', () => {
    expect(sessionName('nightly_2026-12-04')).toBe('arp-nightly_2026-12-04');
    expect(sessionName('x'.repeat(64))).toHaveLength(64);
  });

  test('the caller\'s role is read from STS\'s refusal', () => {
    expect(callerRoleOf(DENIED)).toBe(`arn:aws:iam::${B}:role/Pipeline-SnapshotCheckRole-ABC`);
    expect(callerRoleOf('Access denied')).toBeUndefined();
  });

  test.each([
    ['AccessDenied', DENIED],
    ['AccessDenied', 'Not authorized'],
  ])('%s → SourceRoleNotAssumable naming both accounts, the role, and what to deploy', async (name, message) => {
    stsMock.on(AssumeRoleCommand).rejects(awsError(name, message));
    const err = await assumeSourceRole(config, sourceAccountOf(config)!, OPERATION_ID).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_ROLE_NOT_ASSUMABLE);
    expect(err.message).toContain(`The pipeline's account ${B} cannot assume role ${ROLE} in account ${A}`);
    expect(err.message).toContain(`the role's trust policy must trust account ${B}`);
    expect(err.message).toContain(`pipelineAccount: '${B}'`);
    if (message === DENIED) expect(err.message).toContain(`or this pipeline's role arn:aws:iam::${B}:role/Pipeline-SnapshotCheckRole-ABC`);
  });

  test('throttling and STS server faults stay retryable', async () => {
    stsMock.on(AssumeRoleCommand).rejects(awsError('Throttling'));
    const attempt = async () => (await assumeSourceRole(config, sourceAccountOf(config)!, OPERATION_ID).catch((e) => e)).name;
    expect(await attempt()).toBe('Throttling');
    stsMock.on(AssumeRoleCommand).rejects(awsError('InternalFailure', 'boom', 'server'));
    expect(await attempt()).toBe(PipelineErrorName.AWS_SERVICE_UNAVAILABLE);
    stsMock.on(AssumeRoleCommand).resolves({});
    expect(await attempt()).toBe(PipelineErrorName.AWS_SERVICE_UNAVAILABLE);
  });
});

describe('snapshot-check across accounts', () => {
  const event = (input: unknown = {}) => ({ input, executionArn: EXECUTION_ARN, executionName: OPERATION_ID, executionStartTime: '2026-11-22T10:00:00.000Z' });
  const sourceSnapshot = (overrides: Record<string, unknown> = {}) => ({
    DBClusterSnapshotIdentifier: SOURCE_SNAPSHOT_ID,
    DBClusterSnapshotArn: `arn:aws:rds:${SOURCE_REGION}:${A}:cluster-snapshot:${SOURCE_SNAPSHOT_ID}`,
    DBClusterIdentifier: 'prod-db',
    SnapshotCreateTime: new Date('2026-11-01'),
    Engine: 'aurora-postgresql',
    EngineVersion: '16.4',
    Status: 'available',
    SnapshotType: 'manual',
    StorageEncrypted: true,
    KmsKeyId: 'aws/rds',
    ...overrides,
  });
  beforeEach(() => {
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  });

  test('a role the pipeline cannot assume fails with SourceRoleNotAssumable before the lock, with nothing read or written', async () => {
    stsMock.on(AssumeRoleCommand).rejects(awsError('AccessDenied', DENIED));
    const err = await snapshotCheck(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_ROLE_NOT_ASSUMABLE);
    expect(rdsMock.calls()).toHaveLength(0);
    expect(ddbMock.commandCalls(DescribeDBClustersCommand as any)).toHaveLength(0);
    expect(auditItems(ddbMock)).toEqual([expect.objectContaining({ outcome: 'FAILED', details: expect.objectContaining({ errorName: 'SourceRoleNotAssumable' }) })]);
  });

  test('an unencrypted source snapshot fails with SourceSnapshotUnencrypted before the lock', async () => {
    const unencrypted = sourceSnapshot({ StorageEncrypted: false, KmsKeyId: undefined });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [unencrypted] });
    const err = await snapshotCheck(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_SNAPSHOT_UNENCRYPTED);
    expect(err.message).toMatch(/Encrypt the source cluster/);
    expect(auditItems(ddbMock).some((i) => i.step === 'SnapshotCheck' && i.outcome === 'SUCCEEDED')).toBe(false);
  });

  test('a snapshot ARN of another account is refused', async () => {
    const err = await snapshotCheck(event({ snapshotIdentifier: `arn:aws:rds:${SOURCE_REGION}:${B}:cluster-snapshot:x` })).catch((e) => e);
    expect(err).toMatchObject({ name: PipelineErrorName.INVALID_INPUT, message: expect.stringContaining(`source account ${A}`) });
  });

  test('the snapshot is found as the source role in the source region; the state restores from the shareable copy\'s ARN', async () => {
    // The checks themselves are tested below and in preflight.test.ts.
    jest.spyOn(preflight, 'runPreflight').mockResolvedValue({ report: { passed: true, checks: [], summary: '' } });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [sourceSnapshot()] });
    const state = await snapshotCheck(event()) as PipelineState;
    expect(state).toMatchObject({ copyRequired: true, restoreSnapshotIdentifier: SHARE_ARN, snapshot: { identifier: SOURCE_SNAPSHOT_ID } });
    const listing = rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand)[0];
    expect(listing.args[0].input).toMatchObject({ DBClusterIdentifier: 'prod-db' });
    expect(await signedWith(listing)).toBe('ASIA-SOURCE');
    expect(await (listing.thisValue as RDSClient).config.region()).toBe(SOURCE_REGION);
    // The target is read with the pipeline's own credentials.
    const target = rdsMock.commandCalls(DescribeDBClustersCommand)[0];
    expect(await signedWith(target)).not.toBe('ASIA-SOURCE');
  });

  test('a dry run reports source.role failed, and the share key unchecked', async () => {
    stsMock.on(AssumeRoleCommand).rejects(awsError('AccessDenied', DENIED));
    const out = await snapshotCheck(event({ dryRun: true })) as DryRunState;
    const check = (id: PreflightCheckId) => out.preflight.checks.find((c) => c.id === id)!;
    expect(out.preflight.passed).toBe(false);
    expect(check(PreflightCheckId.SOURCE_ROLE)).toMatchObject({ status: PreflightCheckStatus.FAILED, fix: expect.stringContaining(`pipelineAccount '${B}'`) });
    expect(check(PreflightCheckId.SHARE_KEY).status).toBe(PreflightCheckStatus.SKIPPED);
    expect(check(PreflightCheckId.SOURCE_KEY).status).toBe(PreflightCheckStatus.SKIPPED);
  });
});

describe('preflight across accounts', () => {
  beforeEach(() => {
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  });
  const check = async (overrides: Record<string, unknown>, id: PreflightCheckId) => {
    const { report } = await runPreflight({ config, users: [], operationId: OPERATION_ID, ...overrides });
    return report.checks.find((c) => c.id === id)!;
  };

  test('source.encrypted fails for an unencrypted snapshot, passes for an encrypted one', async () => {
    const unencrypted = makeSnapshotInfo({ storageEncrypted: false });
    expect((await check({ snapshot: unencrypted }, PreflightCheckId.SOURCE_ENCRYPTED)).status).toBe(PreflightCheckStatus.FAILED);
    expect((await check({ snapshot: makeSnapshotInfo() }, PreflightCheckId.SOURCE_ENCRYPTED)).status).toBe(PreflightCheckStatus.PASSED);
    expect((await check({}, PreflightCheckId.SOURCE_ROLE)).status).toBe(PreflightCheckStatus.PASSED);
  });

  test('kms.share-key: described as the source role; a disabled key, or one in another region, fails', async () => {
    expect((await check({}, PreflightCheckId.SHARE_KEY)).status).toBe(PreflightCheckStatus.PASSED);
    expect(kmsMock.commandCalls(DescribeKeyCommand).some((c) => c.args[0].input.KeyId === SHARE_KEY)).toBe(true);
    kmsMock.on(DescribeKeyCommand, { KeyId: SHARE_KEY }).resolves({ KeyMetadata: { KeyId: 'k', KeyState: 'Disabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' } });
    expect(await check({}, PreflightCheckId.SHARE_KEY)).toMatchObject({ status: PreflightCheckStatus.FAILED, reason: expect.stringContaining('Disabled') });
    config = useConfig({ ...CROSS, sourceShareKeyArn: `arn:aws:kms:us-east-1:${A}:key/share-key` });
    expect(await check({}, PreflightCheckId.SHARE_KEY)).toMatchObject({ status: PreflightCheckStatus.FAILED, reason: expect.stringContaining('not in the pipeline\'s region') });
  });

  test('in one account the three cross-account checks are skipped', async () => {
    config = useConfig();
    for (const id of [PreflightCheckId.SOURCE_ROLE, PreflightCheckId.SOURCE_ENCRYPTED, PreflightCheckId.SHARE_KEY]) {
      expect((await check({ snapshot: makeSnapshotInfo() }, id)).status).toBe(PreflightCheckStatus.SKIPPED);
    }
  });
});

describe('copy-snapshot across accounts', () => {
  test('the shareable copy is made as the source role, in the pipeline\'s region, on the share key, tagged as this source\'s and operation\'s', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    rdsMock.on(CopyDBClusterSnapshotCommand).resolves({ DBClusterSnapshot: shareCopy({ Status: 'creating' }) });
    const out = await copySnapshot(crossState());
    const call = rdsMock.commandCalls(CopyDBClusterSnapshotCommand)[0];
    expect(call.args[0].input).toEqual({
      SourceDBClusterSnapshotIdentifier: makeSnapshotInfo().arn,
      TargetDBClusterSnapshotIdentifier: SHARE_ID,
      KmsKeyId: SHARE_KEY,
      CopyTags: false,
      Tags: expect.arrayContaining([
        { Key: PipelineTag.SHARE_OF, Value: 'prod-db' },
        { Key: PipelineTag.PIPELINE, Value: PIPELINE_ID },
        { Key: PipelineTag.OPERATION_ID, Value: OPERATION_ID },
      ]),
    });
    expect(await signedWith(call)).toBe('ASIA-SOURCE');
    expect(await (call.thisValue as RDSClient).config.region()).toBe(TARGET_REGION);
    expect(out).toMatchObject({ snapshotIdentifier: SHARE_ID, snapshotArn: SHARE_ARN, done: false });
  });

  test('a snapshot with the copy\'s name but another operation\'s tags is never adopted', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ TagList: shareTags('op-other') })] });
    const err = await copySnapshot(crossState()).catch((e) => e);
    expect(err).toMatchObject({ name: PipelineErrorName.SNAPSHOT_COPY_FAILED, message: expect.stringContaining(`account ${A}`) });
    expect(rdsMock.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('an unencrypted snapshot is never copied across accounts', async () => {
    const err = await copySnapshot(crossState({ snapshot: makeSnapshotInfo({ storageEncrypted: false }) })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_SNAPSHOT_UNENCRYPTED);
    expect(rdsMock.commandCalls(CopyDBClusterSnapshotCommand)).toHaveLength(0);
  });
});

describe('check-copy-status across accounts', () => {
  const state = () => crossState({
    copy: makeCopyProgress({ done: false, status: 'copying', snapshotIdentifier: SHARE_ID, snapshotArn: SHARE_ARN, waitStartedAt: new Date().toISOString() }),
  });
  const attributes = (accounts: string[]) => ({ DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: accounts }] } });

  test('once available, the copy is shared with the pipeline\'s account only, once', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy()] });
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves(attributes([]));
    const out = await checkCopy(state());
    expect(out.done).toBe(true);
    const share = rdsMock.commandCalls(ModifyDBClusterSnapshotAttributeCommand);
    expect(share.map((c) => c.args[0].input)).toEqual([{ DBClusterSnapshotIdentifier: SHARE_ID, AttributeName: 'restore', ValuesToAdd: [B] }]);
    expect(await signedWith(share[0])).toBe('ASIA-SOURCE');

    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves(attributes([B]));
    await checkCopy(state());
    expect(rdsMock.commandCalls(ModifyDBClusterSnapshotAttributeCommand)).toHaveLength(1);
  });

  test('still copying: nothing is shared', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ Status: 'copying' })] });
    expect((await checkCopy(state())).done).toBe(false);
    expect(rdsMock.commandCalls(ModifyDBClusterSnapshotAttributeCommand)).toHaveLength(0);
  });

  test('RDS\'s limit of 20 accounts per snapshot → SnapshotShareQuotaExceeded, saying which snapshot in which account and what to unshare', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy()] });
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves(attributes([]));
    rdsMock.on(ModifyDBClusterSnapshotAttributeCommand).rejects(awsError('SharedSnapshotQuotaExceededFault'));
    const err = await checkCopy(state()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_SHARE_QUOTA_EXCEEDED);
    expect(err.message).toContain(`snapshot ${SHARE_ID} in account ${A}`);
    expect(err.message).toContain('--values-to-remove');
  });

  test('only the lock holder checks and shares', async () => {
    const { holdLock } = jest.requireActual('./support/factories');
    holdLock(ddbMock, { operationId: 'op-newer', executionArn: 'arn:newer' });
    const err = await checkCopy(state()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.LOCK_LOST);
    expect(rdsMock.calls()).toHaveLength(0);
  });
});

describe('restore-snapshot across accounts', () => {
  test('restores from the shareable copy\'s ARN with the pipeline\'s key; KMSKeyNotAccessibleFault is ShareKeyNotAccessible', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).rejects(awsError('KMSKeyNotAccessibleFault'));
    const err = await restore(crossState({ swap: false })).catch((e) => e);
    expect(rdsMock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0].args[0].input)
      .toMatchObject({ SnapshotIdentifier: SHARE_ARN, KmsKeyId: config.restore.kmsKeyArn });
    expect(err.name).toBe(PipelineErrorName.SHARE_KEY_NOT_ACCESSIBLE);
    expect(err.message).toContain(`The share key ${SHARE_KEY} in account ${A} does not let account ${B} use it through RDS`);
  });

  test('in one account KMSKeyNotAccessibleFault stays KmsKeyNotAccessible', async () => {
    useConfig();
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
    rdsMock.on(RestoreDBClusterFromSnapshotCommand).rejects(awsError('KMSKeyNotAccessibleFault'));
    expect((await restore(makeState({ swap: false })).catch((e) => e)).name).toBe(PipelineErrorName.KMS_KEY_NOT_ACCESSIBLE);
  });
});

describe('archive-snapshot across accounts: release', () => {
  const state = () => crossState({ copy: makeCopyProgress({ snapshotIdentifier: SHARE_ID, snapshotArn: SHARE_ARN }) });

  test('removes the pipeline\'s account from the share, then deletes the copy, as the source role', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy()] });
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves({ DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: [B] }] } });
    const out = await archive(state());
    expect(out).toEqual({ action: 'deleted', snapshotIdentifier: SHARE_ID });
    expect(rdsMock.commandCalls(ModifyDBClusterSnapshotAttributeCommand)[0].args[0].input).toEqual({ DBClusterSnapshotIdentifier: SHARE_ID, AttributeName: 'restore', ValuesToRemove: [B] });
    const del = rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)[0];
    expect(del.args[0].input).toEqual({ DBClusterSnapshotIdentifier: SHARE_ID });
    expect(await signedWith(del)).toBe('ASIA-SOURCE');
  });

  test('a copy already gone converges; one without this operation\'s tags is left untouched (SnapshotCopyFailed)', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    expect(await archive(state())).toEqual({ action: 'deleted', snapshotIdentifier: SHARE_ID });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ TagList: shareTags('op-other') })] });
    const err = await archive(state()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_COPY_FAILED);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });
});

describe('sns-notification across accounts: the failure path releases the shareable copy', () => {
  const failure = () => ({
    status: 'FAILED',
    state: crossState({ copy: makeCopyProgress({ snapshotIdentifier: SHARE_ID }), error: { Error: 'RestoreFailed', Cause: '{}' } }),
    executionArn: EXECUTION_ARN,
    executionName: OPERATION_ID,
    executionStartTime: '2026-11-22T10:00:00.000Z',
    input: {},
  });

  test('a copy still copying is deleted (RDS cancels the copy)', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ Status: 'copying' })] });
    const out = await notify(failure());
    expect(out.snapshotCopy).toMatchObject({ action: 'deleted', account: A, identifier: SHARE_ID });
    expect(rdsMock.commandCalls(ModifyDBClusterSnapshotAttributeCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(1);
  });

  test('the role gone: the notification says what is left in the source account and the commands that remove it', async () => {
    stsMock.on(AssumeRoleCommand).rejects(awsError('AccessDenied', DENIED));
    const out = await notify(failure());
    expect(out.snapshotCopy).toMatchObject({ action: 'failed', account: A, errorName: PipelineErrorName.SOURCE_ROLE_NOT_ASSUMABLE });
    expect(out.snapshotCopy!.advice).toContain(`in account ${A}: aws rds modify-db-cluster-snapshot-attribute --db-cluster-snapshot-identifier ${SHARE_ID} --attribute-name restore --values-to-remove ${B}`);
    expect(out.snapshotCopy!.advice).toContain(`aws rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier ${SHARE_ID} --region ${TARGET_REGION}`);
  });

  test('a snapshot that is not this operation\'s is left untouched, with the commands for a leftover', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ TagList: [] })] });
    const out = await notify(failure());
    expect(out.snapshotCopy).toMatchObject({ action: 'untouched', account: A });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });
});

describe('lib/share-copy: release edge cases', () => {
  const { releaseShareCopy, shareWithPipeline } = jest.requireActual('../../lambda-src/lib/share-copy');
  const release = async (claimedIdentifier?: string) => releaseShareCopy({
    client: new RDSClient({ region: TARGET_REGION }), config, source: sourceAccountOf(config)!, operationId: OPERATION_ID, claimedIdentifier,
  });
  const shared = { DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: [B] }] } };

  test('another name than this operation\'s is refused without a call', async () => {
    expect(await release('arp-share-other')).toMatchObject({ action: 'untouched', reason: expect.stringContaining(SHARE_ID) });
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('RDS describing another snapshot than asked: neither is touched', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ DBClusterSnapshotIdentifier: 'something-else' })] });
    expect(await release()).toMatchObject({ action: 'untouched' });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('a copy RDS is already deleting is reported deleted, without a second delete', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy({ Status: 'deleting' })] });
    expect(await release()).toMatchObject({ action: 'deleted', alreadyDeleting: true });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
  });

  test('gone between the calls: the unshare or the delete finding nothing converges', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy()] });
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves(shared);
    rdsMock.on(ModifyDBClusterSnapshotAttributeCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    expect(await release()).toMatchObject({ action: 'absent' });
    rdsMock.on(ModifyDBClusterSnapshotAttributeCommand).resolves({});
    rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    expect(await release()).toMatchObject({ action: 'deleted', unshared: true });
  });

  test('a refused delete or unshare is thrown under the pipeline\'s name, naming the account', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy()] });
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves(shared);
    rdsMock.on(ModifyDBClusterSnapshotAttributeCommand).rejects(awsError('AccessDenied'));
    expect(await release().catch((e: Error) => e)).toMatchObject({ name: PipelineErrorName.PERMISSION_DENIED, message: expect.stringContaining(`account ${A}`) });
    rdsMock.on(ModifyDBClusterSnapshotAttributeCommand).resolves({});
    rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('InvalidDBClusterSnapshotStateFault'));
    expect((await release().catch((e: Error) => e)).name).toBe(PipelineErrorName.RESOURCE_BUSY);
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('AccessDenied'));
    expect((await release().catch((e: Error) => e)).name).toBe(PipelineErrorName.PERMISSION_DENIED);
  });

  test('sharing: another refusal than the quota keeps its own name', async () => {
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).rejects(awsError('AccessDenied'));
    const client = new RDSClient({ region: TARGET_REGION });
    const err = await shareWithPipeline(client, SHARE_ID, sourceAccountOf(config)!, TARGET_REGION).catch((e: Error) => e);
    expect(err).toMatchObject({ name: PipelineErrorName.PERMISSION_DENIED, message: expect.stringContaining(`Sharing snapshot ${SHARE_ID} in account ${A}`) });
  });
});

describe('stopped executions across accounts', () => {
  test('an ABORTED execution holding the lock has its shareable copy released in the source account', async () => {
    const sfnMock = mockClient(SFNClient);
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', redriveCount: 0 });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [shareCopy()] });
    rdsMock.on(DescribeDBClusterSnapshotAttributesCommand).resolves({ DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [] } });
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
    const out = await notify(makeStatusChangeEvent('ABORTED'));
    expect(out.snapshotCopy).toMatchObject({ action: 'deleted', account: A, identifier: SHARE_ID });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)[0].args[0].input).toEqual({ DBClusterSnapshotIdentifier: SHARE_ID });
    sfnMock.restore();
  });
});
