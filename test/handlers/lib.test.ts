import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { auditItems, awsError, captureLogs, DynamoDBDocumentClient, makeConfig, MASTER_SECRET_ARN, useConfig } from './support/factories';
import { loadConfig } from '../../lambda-src/lib/config';
import {
  copySnapshotIdentifier,
  deriveOperationId,
  executionConsoleLink,
  finalSnapshotIdentifier,
  operationHash,
  parseSnapshotArn,
  sanitizeIdentifier,
  temporaryClusterIdentifier,
  temporaryWriterIdentifier,
} from '../../lambda-src/lib/naming';
import { getSecretJson } from '../../lambda-src/lib/secrets';
import { createLogger, runStep } from '../../lambda-src/lib/step';
import { acquireLock, AuditOutcome, listAudit } from '../../lambda-src/lib/store';
import { PipelineErrorName } from '../../src/contracts';
import { previousClusterIdentifier, temporaryNameStart } from '../../src/names';

const ddbMock = mockClient(DynamoDBDocumentClient);
const smMock = mockClient(SecretsManagerClient);

let logs: ReturnType<typeof captureLogs>;
beforeEach(() => {
  ddbMock.reset();
  smMock.reset();
  ddbMock.onAnyCommand().resolves({});
  logs = captureLogs();
  useConfig();
});
afterEach(() => jest.restoreAllMocks());

describe('config', () => {
  test('parses PIPELINE_CONFIG', () => {
    expect(loadConfig()).toEqual(makeConfig());
  });

  test('names a missing or mistyped field and says the construct sets the variable', () => {
    const { restore, ...noRestore } = makeConfig();
    void restore;
    process.env.PIPELINE_CONFIG = JSON.stringify(noRestore);
    expect(() => loadConfig()).toThrow(/field 'restore'.*construct sets PIPELINE_CONFIG/);
    process.env.PIPELINE_CONFIG = JSON.stringify({ ...makeConfig(), waits: { ...makeConfig().waits, budgetSeconds: '1h' } });
    expect(() => loadConfig()).toThrow(/field 'waits.budgetSeconds' must be a number/);
  });
});

describe('naming', () => {
  test.each([
    ['staging-db-op-1', 'staging-db-op-1'],
    ['Staging_DB--Nightly__Run', 'staging-db-nightly-run'],
    ['1abc', 'x-1abc'],
    ['abc-', 'abc'],
    ['-abc', 'abc'],
  ])('sanitizeIdentifier(%s) = %s', (raw, expected) => {
    expect(sanitizeIdentifier(raw)).toBe(expected);
  });

  test('identifiers are valid RDS identifiers of at most 255 characters', () => {
    const id = copySnapshotIdentifier('t'.repeat(63), 'o_'.repeat(32));
    expect(id.length).toBeLessThanOrEqual(255);
    expect(id).toMatch(/^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$/);
    expect(sanitizeIdentifier('a'.repeat(300)).length).toBe(255);
    expect(finalSnapshotIdentifier('staging-db', 'Op_7')).toBe(`arp-final-staging-db-op-7-${operationHash('Op_7')}`);
    expect(() => sanitizeIdentifier('___')).toThrow(expect.objectContaining({ name: PipelineErrorName.INVALID_INPUT }));
  });

  test('final snapshot and copy names: one per operation ID, prefixed, never equal to each other', () => {
    // These two sanitize alike; the hash of the raw ID keeps their names apart.
    expect(finalSnapshotIdentifier('staging-db', 'Nightly_1')).not.toBe(finalSnapshotIdentifier('staging-db', 'nightly-1'));
    expect(copySnapshotIdentifier('staging-db', 'Nightly_1')).not.toBe(copySnapshotIdentifier('staging-db', 'nightly-1'));
    expect(copySnapshotIdentifier('staging-db', 'final-op')).not.toBe(finalSnapshotIdentifier('staging-db', 'op'));
    expect(copySnapshotIdentifier('Staging-DB', 'op')).toMatch(/^arp-copy-staging-db-op-[0-9a-f]{8}$/);
    expect(finalSnapshotIdentifier('staging-db', 'o'.repeat(64)).length).toBeLessThanOrEqual(255);
  });

  test('a temporary cluster and its writer fit 63 characters and keep the operation hash; the previous target has one name', () => {
    const id = temporaryClusterIdentifier('t'.repeat(63), 'op-1');
    expect(id).toHaveLength(56);
    expect(id).toMatch(new RegExp(`^arp-tmp-t+-${operationHash('op-1')}$`));
    expect(temporaryWriterIdentifier('t'.repeat(63), 'op-1')).toBe(`${id}-writer`);
    expect(temporaryWriterIdentifier('t'.repeat(63), 'op-1')).toHaveLength(63);
    expect(temporaryClusterIdentifier('Staging-DB', 'op-1').startsWith(temporaryNameStart('Staging-DB'))).toBe(true);
    expect(previousClusterIdentifier('Staging-DB')).toBe('arp-prev-staging-db');
    expect(previousClusterIdentifier('t'.repeat(63))).toHaveLength(63);
    expect(temporaryClusterIdentifier('staging-db', 'op-1')).not.toBe(temporaryClusterIdentifier('staging-db', 'op-2'));
  });

  test('deriveOperationId: a valid input operationId, else the execution name made to fit', () => {
    expect(deriveOperationId({ operationId: 'mine' }, 'exec')).toBe('mine');
    expect(deriveOperationId({ operationId: 'not valid!' }, 'exec.name:1')).toBe('exec-name-1');
    expect(deriveOperationId(undefined, 'e'.repeat(80))).toHaveLength(64);
  });

  test('parseSnapshotArn and the console link', () => {
    expect(parseSnapshotArn('arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:rds:prod-2026')).toEqual({
      partition: 'aws', region: 'eu-west-1', account: '123456789012', identifier: 'rds:prod-2026',
    });
    expect(parseSnapshotArn('arn:aws:rds:eu-west-1:123456789012:snapshot:x')).toBeUndefined();
    expect(executionConsoleLink('arn:aws:states:us-east-2:1:execution:sm:e', 'eu-west-1'))
      .toBe('https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/v2/executions/details/arn:aws:states:us-east-2:1:execution:sm:e');
    expect(executionConsoleLink('arn:aws-cn:states:cn-north-1:1:execution:sm:e', 'x')).toMatch(/^https:\/\/cn-north-1\.console\.amazonaws\.cn\//);
  });
});

describe('secrets', () => {
  test('a binary secret is SecretInvalid naming the secret', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(getSecretJson(MASTER_SECRET_ARN, 'test')).rejects.toMatchObject({ name: PipelineErrorName.SECRET_INVALID, message: expect.stringContaining(MASTER_SECRET_ARN) });
  });

  test('a JSON array is SecretInvalid; non-string scalar values are kept as text', async () => {
    smMock.on(GetSecretValueCommand).resolvesOnce({ SecretString: '["a"]' }).resolvesOnce({ SecretString: '{"port": 5432, "nested": {"a": 1}}' });
    await expect(getSecretJson(MASTER_SECRET_ARN, 'test')).rejects.toMatchObject({ name: PipelineErrorName.SECRET_INVALID });
    expect(await getSecretJson(MASTER_SECRET_ARN, 'test')).toEqual({ port: '5432' });
  });

  test('a server error is AwsServiceUnavailable (retried), throttling keeps its name', async () => {
    smMock.on(GetSecretValueCommand).rejectsOnce(awsError('InternalServiceError', 'x', 'server')).rejectsOnce(awsError('ThrottlingException'));
    await expect(getSecretJson(MASTER_SECRET_ARN, 'test')).rejects.toMatchObject({ name: PipelineErrorName.AWS_SERVICE_UNAVAILABLE });
    await expect(getSecretJson(MASTER_SECRET_ARN, 'test')).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('store', () => {
  test('the lock condition lets the same operation and execution renew it and takes over an expired one', async () => {
    const now = new Date('2026-11-22T10:00:00Z');
    const holder = await acquireLock('staging-db', 'op-1', 'arn:exec', now);
    expect(holder.expiresAt).toBe(Math.floor(now.getTime() / 1000) + 86400);
    const put = ddbMock.commandCalls(PutCommand)[0].args[0].input;
    expect(put.ConditionExpression).toBe('attribute_not_exists(#pk) OR (holder_operation_id = :op AND holder_execution_arn = :arn) OR #ttl < :now');
    expect(put.ExpressionAttributeValues).toEqual({ ':op': 'op-1', ':arn': 'arn:exec', ':now': Math.floor(now.getTime() / 1000) });
  });

  test('a lock held by another operation is RestoreAlreadyInProgress, read consistently', async () => {
    ddbMock.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    ddbMock.on(GetCommand).resolves({ Item: { holder_operation_id: 'op-0', holder_execution_arn: 'arn:exec:0', expires_at: 1_800_000_000 } });
    await expect(acquireLock('staging-db', 'op-1', 'arn:exec')).rejects.toMatchObject({
      name: PipelineErrorName.RESTORE_ALREADY_IN_PROGRESS, message: expect.stringContaining('op-0 (execution arn:exec:0) until 2027-01-15T08:00:00.000Z'),
    });
    expect(ddbMock.commandCalls(GetCommand)[0].args[0].input.ConsistentRead).toBe(true);
  });

  test('listAudit follows pagination and maps the items', async () => {
    ddbMock.on(QueryCommand)
      .resolvesOnce({ Items: [{ time_step: '2026-11-22T10:00:00.000Z#SnapshotCheck', step: 'SnapshotCheck', outcome: 'SUCCEEDED', duration_ms: 5 }], LastEvaluatedKey: { k: 1 } })
      .resolvesOnce({ Items: [{ time_step: '2026-11-22T10:01:00.000Z#CopySnapshot', step: 'CopySnapshot', outcome: 'IN_PROGRESS' }] });
    const entries = await listAudit('op-1');
    expect(entries.map((e) => [e.time, e.step, e.outcome, e.durationMs])).toEqual([
      ['2026-11-22T10:00:00.000Z', 'SnapshotCheck', 'SUCCEEDED', 5],
      ['2026-11-22T10:01:00.000Z', 'CopySnapshot', 'IN_PROGRESS', undefined],
    ]);
    expect(ddbMock.commandCalls(QueryCommand)[1].args[0].input.ExclusiveStartKey).toEqual({ k: 1 });
  });
});

describe('step', () => {
  test('a failing audit write fails the step unless best effort; the failure of the body wins over a failing audit', async () => {
    ddbMock.on(PutCommand).rejects(awsError('ThrottlingException'));
    await expect(runStep({ step: 'S', operationId: 'op' }, async () => ({ result: 1 }))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(runStep({ step: 'S', operationId: 'op', bestEffortAudit: true }, async () => ({ result: 1 }))).resolves.toBe(1);
    await expect(runStep({ step: 'S', operationId: 'op' }, async () => {
      throw awsError('KMSKeyNotAccessibleFault');
    })).rejects.toMatchObject({ name: PipelineErrorName.KMS_KEY_NOT_ACCESSIBLE });
  });

  test('audits the outcome, duration and details', async () => {
    await runStep({ step: 'S', operationId: 'op', requestedBy: 'bob' }, async () => ({ result: 'r', outcome: AuditOutcome.SKIPPED, details: { a: 'b' } }));
    expect(auditItems(ddbMock)[0]).toMatchObject({ operation_id: 'op', step: 'S', outcome: 'SKIPPED', details: { a: 'b' }, requested_by: 'bob' });
  });

  test('with an execution, the state item records the step (guarded by the execution), best effort', async () => {
    await runStep({ step: 'S', operationId: 'op', executionArn: 'arn:exec' }, async () => ({ result: 1 }));
    const update = ddbMock.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update).toMatchObject({ TableName: 'state-table', Key: { operation_id: 'op' }, ConditionExpression: 'attribute_not_exists(#pk) OR #arn = :arn' });
    expect(update.ExpressionAttributeValues).toMatchObject({ ':step': 'S', ':arn': 'arn:exec' });

    ddbMock.on(UpdateCommand).rejects(awsError('InternalServerError', 'x', 'server'));
    await expect(runStep({ step: 'S', operationId: 'op', executionArn: 'arn:exec' }, async () => ({ result: 2 }))).resolves.toBe(2);
    await expect(runStep({ step: 'S', operationId: 'op', executionArn: 'arn:exec' }, async () => {
      throw awsError('InvalidDBClusterStateFault');
    })).rejects.toMatchObject({ name: PipelineErrorName.RESOURCE_BUSY });
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(3);
  });

  test('log lines are JSON with step and operation, and drop password-like fields', () => {
    createLogger({ step: 'S', operationId: 'op' }).info('hello', { MasterUserPassword: 'p4ss-word', nested: { password: 'x-secret' }, secretArn: 'arn:s' });
    const line = logs.json()[0];
    expect(line).toMatchObject({ level: 'INFO', message: 'hello', step: 'S', operationId: 'op', secretArn: 'arn:s' });
    expect(logs.lines.join()).not.toContain('p4ss-word');
    expect(logs.lines.join()).not.toContain('x-secret');
  });
});
