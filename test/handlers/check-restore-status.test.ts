import { DescribeDBClustersCommand, DescribeDBInstancesCommand, ModifyDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  auditItems,
  awsError,
  captureLogs,
  DynamoDBDocumentClient,
  makeState,
  MASTER_SECRET_ARN,
  secondsAgo,
  sentText,
  useConfig,
  holdLock,
} from './support/factories';
import { handler, WRITER_CHECK_EVERY } from '../../lambda-src/check-restore-status';
import { PipelineErrorName, RestoreProgress } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const smMock = mockClient(SecretsManagerClient);
const PASSWORD = 'Sup3r-secret-master-pw';

function previous(overrides: Partial<RestoreProgress> = {}): RestoreProgress {
  return {
    done: false,
    status: 'creating',
    attempt: 0,
    waitStartedAt: secondsAgo(300),
    nextWaitSeconds: 30,
    clusterIdentifier: 'staging-db',
    clusterArn: 'arn:cluster',
    instanceIdentifier: 'staging-db-writer',
    masterPasswordReset: false,
    ...overrides,
  };
}
function rdsReports(clusterStatus: string, instanceStatus: string, extra: Record<string, unknown> = {}) {
  rdsMock.on(DescribeDBClustersCommand).resolves({
    DBClusters: [{
      DBClusterIdentifier: 'staging-db',
      DBClusterArn: 'arn:cluster',
      Status: clusterStatus,
      Endpoint: 'staging-db.cluster-abc.eu-central-1.rds.amazonaws.com',
      ReaderEndpoint: 'staging-db.cluster-ro-abc.eu-central-1.rds.amazonaws.com',
      Port: 5432,
      EngineVersion: '16.4',
      MasterUsername: 'postgres_admin',
      ...extra,
    }],
  });
  rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: 'staging-db-writer', DBInstanceStatus: instanceStatus }] });
}

let logs: ReturnType<typeof captureLogs>;
beforeEach(() => {
  rdsMock.reset();
  ddbMock.reset();
  smMock.reset();
  ddbMock.onAnyCommand().resolves({});
  holdLock(ddbMock);
  smMock.on(GetSecretValueCommand, { SecretId: MASTER_SECRET_ARN }).resolves({ SecretString: JSON.stringify({ username: 'postgres_admin', password: PASSWORD }) });
  rdsMock.on(ModifyDBClusterCommand).resolves({});
  logs = captureLogs();
  useConfig();
  jest.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => jest.restoreAllMocks());

describe('check-restore-status', () => {
  test('still creating: in progress, nothing modified, no secret read', async () => {
    rdsReports('creating', 'creating');
    const out = await handler(makeState({ restore: previous() }));
    expect(out).toMatchObject({ done: false, status: 'creating', attempt: 1, nextWaitSeconds: 30, waitBasis: 'backoff', masterPasswordReset: false });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
    expect(smMock.calls()).toHaveLength(0);
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'CheckRestoreStatus', outcome: 'IN_PROGRESS' });
  });

  test('while the cluster restores, one describe per check: the writer is read on every tenth check only', async () => {
    rdsReports('creating', 'incompatible-network');
    for (const attempt of [0, 1, 2, 3, 5, 7, 8]) {
      expect(await handler(makeState({ restore: previous({ attempt }) }))).toMatchObject({ done: false, status: 'creating', attempt: attempt + 1 });
    }
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)).toHaveLength(7);
    // The tenth check reads the writer too: a failed writer surfaces while its cluster is still restoring.
    await expect(handler(makeState({ restore: previous({ attempt: WRITER_CHECK_EVERY - 1 }) })))
      .rejects.toMatchObject({ name: PipelineErrorName.RESTORE_FAILED, message: expect.stringContaining('writer instance') });
    rdsMock.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault'));
    await expect(handler(makeState({ restore: previous({ attempt: 2 * WRITER_CHECK_EVERY - 1 }) })))
      .rejects.toMatchObject({ name: PipelineErrorName.RESTORE_FAILED, message: expect.stringContaining('disappeared') });
  });

  test('cluster available, writer not yet: reports the writer\'s status', async () => {
    rdsReports('available', 'configuring-enhanced-monitoring');
    expect(await handler(makeState({ restore: previous() }))).toMatchObject({ done: false, status: 'configuring-enhanced-monitoring' });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });

  test('history: the restore and the password reset are recorded once each; the reset restarts the waits from its own history', async () => {
    const history: Record<string, unknown>[] = [];
    ddbMock.on(GetCommand, { Key: { operation_id: 'HISTORY#staging-db' } }).callsFake(() => ({ Item: history.at(-1) }));
    ddbMock.on(PutCommand).callsFake((input: { Item: Record<string, unknown> }) => {
      if (String(input.Item.operation_id).startsWith('HISTORY#')) history.push(input.Item);
      return {};
    });
    rdsReports('available', 'available');
    // The restore's long waits: 300 s since the start, the last open check 20 s ago.
    const expected = { expectedSeconds: 3600, expectedEarliestSeconds: 3600, expectedLatestSeconds: 3600 };
    const restoring = previous({ checkedAt: secondsAgo(20), ...expected, nextWaitSeconds: 300 });
    const first = await handler(makeState({ restore: restoring }));
    expect(first).toMatchObject({ status: 'resetting-master-password', nextWaitSeconds: 30, waitBasis: 'backoff', rampStep: 0 });
    expect(first.expectedSeconds).toBeUndefined();
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ phases: { restore: [{ operationId: 'op-1', seconds: 290 }] } });
    // A retried check after the reset was requested records nothing again.
    await handler(makeState({ restore: restoring }));
    expect(history).toHaveLength(1);

    rdsReports('available', 'available');
    await handler(makeState({ restore: { ...first, checkedAt: secondsAgo(0) } }));
    expect(history.at(-1)).toMatchObject({ phases: { passwordReset: [{ operationId: 'op-1' }], restore: [{ seconds: 290 }] } });

    // With a recorded reset, the reset is expected to take its recorded time.
    history.push({ ...history.at(-1), phases: { passwordReset: [{ operationId: 'op-0', seconds: 60, at: '' }] } });
    rdsMock.on(ModifyDBClusterCommand).resolves({});
    const next = await handler(makeState({ restore: previous() }));
    expect(next).toMatchObject({ waitBasis: 'history', expectedSeconds: 60, nextWaitSeconds: 30 });
  });

  test('both available: resets the master password from the secret, then reports done once applied', async () => {
    rdsReports('available', 'available');
    const first = await handler(makeState({ restore: previous() }));
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: 'staging-db', MasterUserPassword: PASSWORD, ApplyImmediately: true });
    expect(first).toMatchObject({ done: false, status: 'resetting-master-password', masterPasswordReset: false });
    expect(first.masterPasswordResetRequestedAt).toBeDefined();
    expect(first.endpoint).toBeUndefined();

    rdsReports('resetting-master-credentials', 'available', { PendingModifiedValues: { MasterUserPassword: '****' } });
    const second = await handler(makeState({ restore: first }));
    expect(second).toMatchObject({ done: false, status: 'resetting-master-credentials', masterPasswordResetRequestedAt: first.masterPasswordResetRequestedAt });

    rdsReports('available', 'available', { PendingModifiedValues: { MasterUserPassword: '****' } });
    rdsMock.resetHistory();
    expect(await handler(makeState({ restore: second }))).toMatchObject({ done: false, status: 'resetting-master-password' });
    // The reset still pending on the cluster: the cluster is read, the writer is not.
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)).toHaveLength(1);
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(0);

    rdsReports('available', 'available');
    rdsMock.resetHistory();
    const done = await handler(makeState({ restore: second }));
    // The reset applied: the writer is read before the loop ends (its status and endpoint).
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
    expect(done).toMatchObject({
      done: true,
      status: 'available',
      masterPasswordReset: true,
      endpoint: 'staging-db.cluster-abc.eu-central-1.rds.amazonaws.com',
      readerEndpoint: 'staging-db.cluster-ro-abc.eu-central-1.rds.amazonaws.com',
      port: 5432,
      engineVersion: '16.4',
      masterUsername: 'postgres_admin',
    });
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0); // requested once, by the first check
    expect(auditItems(ddbMock).map((a) => a.outcome)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED']);

    // A writer that failed during the reset surfaces once the reset is applied (or on every tenth check).
    rdsReports('available', 'failed');
    await expect(handler(makeState({ restore: second }))).rejects.toMatchObject({ name: 'RestoreFailed' });
  });

  test('the master password appears nowhere but in the ModifyDBCluster call', async () => {
    rdsReports('available', 'available');
    const out = await handler(makeState({ restore: previous() }));
    expect(JSON.stringify(out)).not.toContain(PASSWORD);
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.lines.join('\n')).not.toContain(PASSWORD);
    expect(sentText(ddbMock)).not.toContain(PASSWORD);
    expect(ddbMock.calls().length).toBeGreaterThan(0);
  });

  test('a busy cluster when resetting: try again on the next check', async () => {
    rdsReports('available', 'available');
    rdsMock.on(ModifyDBClusterCommand).rejects(awsError('InvalidDBClusterStateFault'));
    const out = await handler(makeState({ restore: previous() }));
    expect(out).toMatchObject({ done: false, status: 'available' });
    expect(out.masterPasswordResetRequestedAt).toBeUndefined();
  });

  test.each(['failed', 'inaccessible-encryption-credentials', 'incompatible-restore', 'incompatible-parameters', 'storage-full'])(
    'RestoreFailed when the cluster is %s', async (status) => {
      rdsReports(status, 'creating');
      const err = await handler(makeState({ restore: previous() })).catch((e) => e);
      expect(err.name).toBe(PipelineErrorName.RESTORE_FAILED);
      expect(err.message).toContain(`'${status}'`);
      expect(err.message).toContain('https://eu-central-1.console.aws.amazon.com/rds/');
    });

  test('RestoreFailed when the writer failed', async () => {
    rdsReports('available', 'incompatible-network');
    await expect(handler(makeState({ restore: previous() }))).rejects.toMatchObject({ name: PipelineErrorName.RESTORE_FAILED, message: expect.stringContaining('writer instance') });
  });

  test('RestoreFailed when the cluster disappeared', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
    await expect(handler(makeState({ restore: previous() }))).rejects.toMatchObject({ name: PipelineErrorName.RESTORE_FAILED });
  });

  test('OperationTimedOut past the budget', async () => {
    rdsReports('creating', 'creating');
    const err = await handler(makeState({ restore: previous({ waitStartedAt: secondsAgo(7200) }) })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.OPERATION_TIMED_OUT);
    expect(err.message).toContain('staging-db');
  });

  test('SecretInvalid when the secret has no "password" key: names the secret and the key, never a value', async () => {
    rdsReports('available', 'available');
    smMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ pass: PASSWORD }) });
    const err = await handler(makeState({ restore: previous() })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SECRET_INVALID);
    expect(err.message).toContain(MASTER_SECRET_ARN);
    expect(err.message).toContain('"password"');
    expect(err.message).not.toContain(PASSWORD);
    expect(logs.lines.join('\n')).not.toContain(PASSWORD);
    expect(sentText(ddbMock)).not.toContain(PASSWORD);
    expect(rdsMock.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });

  test('SecretInvalid when the secret is not JSON: the parser\'s message (which quotes the text) is not passed on', async () => {
    rdsReports('available', 'available');
    const notJson = 'hunter2-pw'; // short enough for JSON.parse to quote it whole in its message
    expect(() => JSON.parse(notJson)).toThrow(notJson);
    smMock.on(GetSecretValueCommand).resolves({ SecretString: notJson });
    const err = await handler(makeState({ restore: previous() })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SECRET_INVALID);
    expect(err.message).not.toContain(notJson);
    expect(logs.lines.join('\n')).not.toContain(notJson);
    expect(sentText(ddbMock)).not.toContain(notJson);
  });

  test('SecretInvalid when the secret cannot be read', async () => {
    rdsReports('available', 'available');
    smMock.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException'));
    await expect(handler(makeState({ restore: previous() })))
      .rejects.toMatchObject({ name: PipelineErrorName.SECRET_INVALID, message: expect.stringContaining(MASTER_SECRET_ARN) });
  });

  test('SecretInvalid when RDS rejects the password, without the password in the message', async () => {
    rdsReports('available', 'available');
    rdsMock.on(ModifyDBClusterCommand).rejects(awsError('InvalidParameterValue', 'The parameter MasterUserPassword is not a valid password.'));
    const err = await handler(makeState({ restore: previous() })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SECRET_INVALID);
    expect(err.message).not.toContain(PASSWORD);
  });

  test('throttling passes through under its SDK name (RDS and Secrets Manager)', async () => {
    rdsReports('available', 'available');
    smMock.on(GetSecretValueCommand).rejects(awsError('ThrottlingException'));
    await expect(handler(makeState({ restore: previous() }))).rejects.toMatchObject({ name: 'ThrottlingException' });
    rdsMock.on(DescribeDBClustersCommand).rejects(awsError('Throttling'));
    await expect(handler(makeState({ restore: previous() }))).rejects.toMatchObject({ name: 'Throttling' });
  });

  test('InvalidInput without $.restore', async () => {
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
  });
});
