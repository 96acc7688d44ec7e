import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { auditItems, awsError, captureLogs, DynamoDBDocumentClient, EXECUTION_ARN, makeState, OPERATION_ID, useConfig } from './support/factories';
import { handler, subjectLine } from '../../lambda-src/sns-notification';
import { NotificationEvent, PipelineErrorName } from '../../src/contracts';

const snsMock = mockClient(SNSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

function event(status: string, state: unknown, input: unknown = {}): NotificationEvent {
  return { status, state, executionArn: EXECUTION_ARN, executionName: OPERATION_ID, executionStartTime: '2026-11-22T10:00:00.000Z', input };
}
const published = () => {
  const input = snsMock.commandCalls(PublishCommand)[0].args[0].input;
  return { ...input, body: JSON.parse(input.Message!) };
};

const successState = makeState({
  restore: {
    done: true,
    status: 'available',
    attempt: 5,
    waitStartedAt: '2026-11-22T10:05:00.000Z',
    nextWaitSeconds: 300,
    clusterIdentifier: 'staging-db',
    clusterArn: 'arn:cluster',
    instanceIdentifier: 'staging-db-writer',
    masterPasswordReset: true,
    endpoint: 'staging-db.cluster-abc.eu-central-1.rds.amazonaws.com',
    port: 5432,
    engineVersion: '16.4',
    masterUsername: 'admin',
  },
  dbUsers: { created: ['app_user'], updated: [], databases: ['app'] },
  archive: { action: 'deleted', snapshotIdentifier: 'staging-db-op-1' },
});

beforeEach(() => {
  snsMock.reset();
  ddbMock.reset();
  ddbMock.onAnyCommand().resolves({});
  ddbMock.on(QueryCommand).resolves({
    Items: [
      { operation_id: OPERATION_ID, time_step: '2026-11-22T10:00:01.000Z#SnapshotCheck', step: 'SnapshotCheck', outcome: 'SUCCEEDED', duration_ms: 800 },
      { operation_id: OPERATION_ID, time_step: '2026-11-22T10:01:00.000Z#CheckCopyStatus', step: 'CheckCopyStatus', outcome: 'IN_PROGRESS', duration_ms: 100 },
      { operation_id: OPERATION_ID, time_step: '2026-11-22T10:02:00.000Z#CheckCopyStatus', step: 'CheckCopyStatus', outcome: 'SUCCEEDED', duration_ms: 150 },
    ],
  });
  snsMock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
  captureLogs();
  useConfig();
});
afterEach(() => jest.restoreAllMocks());

describe('sns-notification', () => {
  test('success: publishes subject and JSON body, records SUCCEEDED, releases the lock this operation holds', async () => {
    const out = await handler(event('SUCCEEDED', successState, { requestedBy: 'alice' }));

    expect(out).toEqual({ status: 'SUCCEEDED', operationId: OPERATION_ID, messageId: 'msg-1', lockReleased: true });
    const msg = published();
    expect(msg.TopicArn).toBe('arn:aws:sns:eu-central-1:123456789012:restore-topic');
    expect(msg.Subject).toBe('Aurora restore SUCCEEDED: staging-db (op-1)');
    expect(msg.MessageAttributes?.status).toEqual({ DataType: 'String', StringValue: 'SUCCEEDED' });
    expect(msg.body).toMatchObject({
      status: 'SUCCEEDED',
      operationId: OPERATION_ID,
      executionArn: EXECUTION_ARN,
      consoleLink: `https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/${EXECUTION_ARN}`,
      requestedBy: 'alice',
      snapshot: { identifier: 'prod-db-2026-11-01' },
      target: { endpoint: 'staging-db.cluster-abc.eu-central-1.rds.amazonaws.com', port: 5432 },
      stepDurationsMs: { SnapshotCheck: 800, CheckCopyStatus: 250 },
    });
    expect(msg.body.error).toBeUndefined();
    // Only this execution's audit entries count.
    expect(ddbMock.commandCalls(QueryCommand)[0].args[0].input.ExpressionAttributeValues).toMatchObject({ ':since': '2026-11-22T10:00:00.000Z' });

    const release = ddbMock.commandCalls(DeleteCommand)[0].args[0].input;
    expect(release.Key).toEqual({ operation_id: 'LOCK#staging-db' });
    expect(release.ConditionExpression).toBe('holder_operation_id = :op AND holder_execution_arn = :arn');
    const update = ddbMock.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.Key).toEqual({ operation_id: OPERATION_ID });
    expect(update.ExpressionAttributeValues).toMatchObject({ ':status': 'SUCCEEDED', ':targetEndpoint': 'staging-db.cluster-abc.eu-central-1.rds.amazonaws.com' });
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'SnsNotification', outcome: 'SUCCEEDED', details: { status: 'SUCCEEDED', messageId: 'msg-1' } });
  });

  test('failure: the error name and the Lambda errorMessage extracted from the Cause', async () => {
    const cause = JSON.stringify({ errorType: 'TargetNotOwned', errorMessage: 'Refusing to delete cluster staging-db: tag missing. Tag it.', trace: ['at x'] });
    await handler(event('FAILED', { ...successState, error: { Error: 'TargetNotOwned', Cause: cause } }));
    const msg = published();
    expect(msg.Subject).toBe('Aurora restore FAILED: staging-db (op-1)');
    expect(msg.body.error).toEqual({ name: 'TargetNotOwned', cause: 'Refusing to delete cluster staging-db: tag missing. Tag it.' });
    expect(ddbMock.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues).toMatchObject({
      ':status': 'FAILED', ':errorName': 'TargetNotOwned', ':errorMessage': 'Refusing to delete cluster staging-db: tag missing. Tag it.',
    });
  });

  test('failure before the state existed: operation ID from the input (else the execution name), cause kept when not JSON', async () => {
    const raw = { operationId: 'manual-7', snapshotIdentifier: 'nope', error: { Error: 'States.Timeout', Cause: 'Task timed out' } };
    const out = await handler(event('FAILED', raw, { operationId: 'manual-7', snapshotIdentifier: 'nope' }));
    expect(out.operationId).toBe('manual-7');
    const msg = published();
    expect(msg.body).toMatchObject({ operationId: 'manual-7', snapshot: { requested: 'nope' }, error: { name: 'States.Timeout', cause: 'Task timed out' } });
    expect(ddbMock.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues).toMatchObject({ ':status': 'FAILED', ':step': 'SnapshotCheck' });

    snsMock.resetHistory();
    const fromName = await handler(event('FAILED', { bogus: true, error: { Error: 'InvalidInput', Cause: '{}' } }, { bogus: true }));
    expect(fromName.operationId).toBe(OPERATION_ID);
  });

  test('failure path: bookkeeping errors never stop the notification', async () => {
    ddbMock.reset();
    ddbMock.onAnyCommand().rejects(awsError('InternalServerError', 'DynamoDB is down', 'server'));
    const out = await handler(event('FAILED', { ...successState, error: { Error: 'RestoreFailed', Cause: 'x' } }));
    expect(out).toMatchObject({ status: 'FAILED', messageId: 'msg-1', lockReleased: false });
    expect(published().body.stepDurationsMs).toBeUndefined();
  });

  test('success path: a bookkeeping error fails the step before anything is published', async () => {
    ddbMock.on(UpdateCommand).rejects(awsError('ThrottlingException'));
    await expect(handler(event('SUCCEEDED', successState))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('a lock held by someone else is left alone', async () => {
    ddbMock.on(DeleteCommand).rejects(awsError('ConditionalCheckFailedException'));
    expect((await handler(event('SUCCEEDED', successState))).lockReleased).toBe(false);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  test('the state item of another execution with the same operation ID is not overwritten', async () => {
    ddbMock.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
    await expect(handler(event('FAILED', { operationId: OPERATION_ID, error: { Error: 'InvalidInput', Cause: 'x' } }))).resolves.toMatchObject({ messageId: 'msg-1' });
    const update = ddbMock.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.ConditionExpression).toBe('attribute_not_exists(#pk) OR #arn = :arn');
  });

  test('a second call converges: same record, lock already released, published again', async () => {
    ddbMock.on(DeleteCommand).resolvesOnce({}).rejects(awsError('ConditionalCheckFailedException'));
    const first = await handler(event('SUCCEEDED', successState));
    const second = await handler(event('SUCCEEDED', successState));
    expect([first.lockReleased, second.lockReleased]).toEqual([true, false]);
    const updates = ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':status']);
    expect(updates).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(2);
  });

  test('publishing errors are raised: throttling keeps its name, a missing topic passes through as the SDK names it', async () => {
    snsMock.on(PublishCommand).rejectsOnce(awsError('ThrottlingException')).rejectsOnce(awsError('NotFoundException', 'Topic does not exist'));
    await expect(handler(event('FAILED', { error: { Error: 'X', Cause: 'y' } }))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(handler(event('FAILED', { error: { Error: 'X', Cause: 'y' } }))).rejects.toMatchObject({ name: 'NotFoundException' });
    expect(auditItems(ddbMock).some((a) => a.outcome === 'FAILED')).toBe(true);
  });

  test('the subject is one printable line of at most 100 characters', () => {
    const s = subjectLine(`Aurora restore FAILED: ${'x'.repeat(200)}\nsecond line é`);
    expect(s.length).toBeLessThanOrEqual(100);
    expect(s).toMatch(/^[\x20-\x7E]+$/);
    expect(subjectLine('a\nb')).toBe('a b');
  });

  test('an error of a named pipeline type is reported as is', async () => {
    await handler(event('FAILED', { ...successState, error: { Error: PipelineErrorName.OPERATION_TIMED_OUT, Cause: JSON.stringify({ errorMessage: 'Waited too long' }) } }));
    expect(published().body.error).toEqual({ name: 'OperationTimedOut', cause: 'Waited too long' });
  });
});
