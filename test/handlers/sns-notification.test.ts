import {
  AddTagsToResourceCommand,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  ListTagsForResourceCommand,
  RDSClient,
  Tag,
} from '@aws-sdk/client-rds';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  auditItems,
  awsError,
  captureLogs,
  COPY_ARN,
  COPY_ID,
  DynamoDBDocumentClient,
  EXECUTION_ARN,
  makeCopyProgress,
  makeRestoreProgress,
  makeState,
  OPERATION_ID,
  ownTags,
  SOURCE_SNAPSHOT_ID,
  TARGET_REGION,
  useConfig,
} from './support/factories';
import { handler, subjectLine } from '../../lambda-src/sns-notification';
import { CopyProgress, NotificationEvent, PipelineErrorName, PipelineTag } from '../../src/contracts';

const snsMock = mockClient(SNSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const rdsMock = mockClient(RDSClient);

function event(status: string, state: unknown, input: unknown = {}): NotificationEvent {
  return { status, state, executionArn: EXECUTION_ARN, executionName: OPERATION_ID, executionStartTime: '2026-11-22T10:00:00.000Z', input };
}
const published = () => {
  const input = snsMock.commandCalls(PublishCommand)[0].args[0].input;
  return { ...input, body: JSON.parse(input.Message!) };
};

const successState = makeState({
  restore: makeRestoreProgress(),

  dbUsers: { created: ['app_user'], updated: [], databases: ['app'] },
  archive: { action: 'deleted', snapshotIdentifier: 'staging-db-op-1' },
});

beforeEach(() => {
  snsMock.reset();
  ddbMock.reset();
  rdsMock.reset();
  // By default no copy exists in the target region.
  rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
  rdsMock.on(DeleteDBClusterSnapshotCommand).resolves({});
  rdsMock.on(AddTagsToResourceCommand).resolves({});
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

describe('sns-notification: the snapshot copy on the failure path', () => {
  const copyProgress = (overrides: Partial<CopyProgress> = {}) => makeCopyProgress({ done: false, status: 'copying', attempt: 4, ...overrides });
  const timedOut = { Error: PipelineErrorName.OPERATION_TIMED_OUT, Cause: JSON.stringify({ errorMessage: 'Waited 3700s for the copy' }) };
  const failedDuringCopy = (overrides: Record<string, unknown> = {}) => event('FAILED', makeState({ copy: copyProgress(), error: timedOut, ...overrides }));
  const copyExists = (options: { tags?: Tag[]; status?: string; identifier?: string } = {}) => rdsMock
    .on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
    .resolves({
      DBClusterSnapshots: [{
        DBClusterSnapshotIdentifier: options.identifier ?? COPY_ID,
        DBClusterSnapshotArn: COPY_ARN,
        Status: options.status ?? 'copying',
        TagList: options.tags ?? ownTags(),
      }],
    });
  const rdsMutations = () => [...rdsMock.commandCalls(DeleteDBClusterSnapshotCommand), ...rdsMock.commandCalls(AddTagsToResourceCommand)];

  test('deletes this operation\'s copy, even while `copying`, before publishing; the message and the audit say so', async () => {
    copyExists();
    const order: string[] = [];
    rdsMock.on(DeleteDBClusterSnapshotCommand).callsFake(() => {
      order.push('delete');
      return {};
    });
    snsMock.on(PublishCommand).callsFake(() => {
      order.push('publish');
      return { MessageId: 'msg-1' };
    });
    ddbMock.on(DeleteCommand).callsFake(() => {
      order.push('release lock');
      return {};
    });

    const out = await handler(failedDuringCopy());
    expect(order).toEqual(['delete', 'release lock', 'publish']);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterSnapshotIdentifier: COPY_ID }]);
    expect(rdsMock.commandCalls(AddTagsToResourceCommand)).toHaveLength(0);
    const report = { identifier: COPY_ID, region: TARGET_REGION, action: 'deleted', status: 'copying' };
    expect(published().body.snapshotCopy).toEqual({ ...report, detail: `Deleted snapshot copy ${COPY_ID} in ${TARGET_REGION} (it was 'copying': RDS cancels the copy).` });
    expect(published().body.error).toEqual({ name: 'OperationTimedOut', cause: 'Waited 3700s for the copy' });
    expect(out.snapshotCopy).toMatchObject(report);
    expect(auditItems(ddbMock)[0]).toMatchObject({
      step: 'SnsNotification', outcome: 'SUCCEEDED', details: { status: 'FAILED', snapshotCopyIdentifier: COPY_ID, snapshotCopyAction: 'deleted' },
    });
  });

  test('CopySnapshot itself failed ($.copy missing, copy required): the copy is looked up by this operation\'s name', async () => {
    copyExists({ status: 'creating' });
    await handler(event('FAILED', makeState({ error: timedOut })));
    expect(rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand)[0].args[0].input).toEqual({ DBClusterSnapshotIdentifier: COPY_ID });
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand).map((c) => c.args[0].input)).toEqual([{ DBClusterSnapshotIdentifier: COPY_ID }]);
    expect(published().body.snapshotCopy).toMatchObject({ identifier: COPY_ID, action: 'deleted', status: 'creating' });
  });

  test('retainSnapshotCopy: the copy is kept and tagged retained, not deleted', async () => {
    useConfig({ retainSnapshotCopy: true });
    copyExists({ status: 'available' });
    await handler(failedDuringCopy());
    expect(rdsMock.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input)).toEqual([
      { ResourceName: COPY_ARN, Tags: [{ Key: PipelineTag.RETAINED, Value: 'true' }] },
    ]);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
    expect(published().body.snapshotCopy).toMatchObject({
      identifier: COPY_ID,
      action: 'retained',
      detail: expect.stringContaining(`${PipelineTag.RETAINED}=true`),
      advice: expect.stringContaining('delete it by hand when you no longer need it'),
    });
  });

  test.each([
    ['another operation\'s tag', ownTags('op-0')],
    ['another pipeline\'s tag', [{ Key: PipelineTag.PIPELINE, Value: 'someone-else' }, { Key: PipelineTag.OPERATION_ID, Value: OPERATION_ID }]],
    ['no tags', []],
  ])('a snapshot with this operation\'s copy name but %s is left alone and reported untouched', async (_what, tags) => {
    copyExists({ tags });
    const out = await handler(failedDuringCopy());
    expect(out.messageId).toBe('msg-1');
    expect(rdsMutations()).toHaveLength(0);
    expect(published().body.snapshotCopy).toMatchObject({
      identifier: COPY_ID,
      action: 'untouched',
      detail: expect.stringContaining('does not carry this operation\'s tags'),
      advice: expect.stringContaining('Nothing was deleted'),
    });
  });

  test('tags read with ListTagsForResource when the describe call leaves them out: still only this operation\'s copy', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
      .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'copying' }] });
    rdsMock.on(ListTagsForResourceCommand, { ResourceName: COPY_ARN }).resolvesOnce({ TagList: ownTags('op-0') }).resolves({ TagList: ownTags() });
    await handler(failedDuringCopy());
    expect(rdsMutations()).toHaveLength(0);
    snsMock.resetHistory();
    await handler(failedDuringCopy());
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(1);
    expect(published().body.snapshotCopy).toMatchObject({ action: 'deleted' });
  });

  test.each([
    ['the source snapshot', SOURCE_SNAPSHOT_ID],
    ['another operation\'s copy', 'staging-db-op-0'],
  ])('a copy named differently in the state (%s) is never touched, nor even described', async (_what, identifier) => {
    await handler(failedDuringCopy({ copy: copyProgress({ snapshotIdentifier: identifier }) }));
    expect(rdsMock.calls()).toHaveLength(0);
    expect(published().body.snapshotCopy).toMatchObject({
      identifier, action: 'untouched', detail: `Refusing to touch snapshot ${identifier}: this operation's copy is named ${COPY_ID}.`,
    });
  });

  test('a snapshot RDS describes under another name is not touched', async () => {
    copyExists({ identifier: 'staging-db-op-10' });
    await handler(failedDuringCopy());
    expect(rdsMutations()).toHaveLength(0);
    expect(published().body.snapshotCopy).toMatchObject({ identifier: COPY_ID, action: 'untouched' });
  });

  test('no copy exists: action none, nothing deleted', async () => {
    await handler(failedDuringCopy());
    expect(rdsMutations()).toHaveLength(0);
    expect(published().body.snapshotCopy).toEqual({
      identifier: COPY_ID,
      region: TARGET_REGION,
      action: 'none',
      detail: `No snapshot copy named ${COPY_ID} exists in ${TARGET_REGION}: it was never made, or is already deleted.`,
    });
  });

  test.each([
    ['RDS refuses the delete', () => rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('InvalidDBClusterSnapshotStateFault', 'Cannot delete the snapshot in its current state')), 'InvalidDBClusterSnapshotStateFault'],
    ['the role may not describe', () => rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('AccessDenied', 'not authorized')), 'PermissionDenied'],
    ['RDS is down', () => rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('InternalFailure', 'oops', 'server')), 'InternalFailure'],
    ['throttled', () => rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('ThrottlingException')), 'ThrottlingException'],
  ])('cleanup error (%s): the notification still goes out with action failed and what to do; the handler does not throw', async (_what, arrange, errorName) => {
    copyExists();
    arrange();
    const logs = captureLogs();
    const out = await handler(failedDuringCopy());
    expect(out).toMatchObject({ status: 'FAILED', messageId: 'msg-1', lockReleased: true, snapshotCopy: { action: 'failed', errorName } });
    const report = published().body.snapshotCopy;
    expect(report).toMatchObject({ identifier: COPY_ID, region: TARGET_REGION, action: 'failed', errorName, detail: expect.stringContaining(`${errorName}: `) });
    expect(report.advice).toBe(`Delete snapshot ${COPY_ID} in ${TARGET_REGION} by hand (RDS console, or aws rds delete-db-cluster-snapshot `
      + `--db-cluster-snapshot-identifier ${COPY_ID} --region ${TARGET_REGION}), once it is no longer being copied, so that it does not count against the snapshot quota.`);
    expect(published().body.error.name).toBe('OperationTimedOut');
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'SUCCEEDED', details: { snapshotCopyAction: 'failed', snapshotCopyError: errorName } });
    expect(logs.json().find((l) => l.level === 'WARN' && /snapshot copy/.test(l.message))).toMatchObject({ snapshotIdentifier: COPY_ID, errorName });
  });

  test('retaining fails: advice to tag it by hand', async () => {
    useConfig({ retainSnapshotCopy: true });
    copyExists();
    rdsMock.on(AddTagsToResourceCommand).rejects(awsError('AccessDenied', 'no'));
    await handler(failedDuringCopy());
    expect(published().body.snapshotCopy).toMatchObject({ action: 'failed', advice: expect.stringMatching(/^Tag snapshot staging-db-op-1 in eu-central-1 with aurora-restore-pipeline:retained=true by hand/) });
  });

  test('called twice: the second call finds the copy being deleted (no second delete), then gone', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
      .resolvesOnce({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'copying', TagList: ownTags() }] })
      .resolvesOnce({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'deleting', TagList: ownTags() }] })
      .rejects(awsError('DBClusterSnapshotNotFoundFault'));
    const actions = [];
    for (let i = 0; i < 3; i++) actions.push((await handler(failedDuringCopy())).snapshotCopy?.action);
    expect(actions).toEqual(['deleted', 'deleted', 'none']);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(1);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(3);
  });

  test('the success path never touches the copy (ArchiveSnapshot did)', async () => {
    copyExists({ status: 'available' });
    const out = await handler(event('SUCCEEDED', { ...successState, copy: copyProgress({ done: true, status: 'available' }) }));
    expect(rdsMock.calls()).toHaveLength(0);
    expect(out.snapshotCopy).toBeUndefined();
    expect(published().body.snapshotCopy).toBeUndefined();
    expect(published().body.archive).toEqual({ action: 'deleted', snapshotIdentifier: 'staging-db-op-1' });
  });

  test.each([
    ['no copy was required (same region)', () => event('FAILED', makeState({ copyRequired: false, error: timedOut }))],
    ['SnapshotCheck failed: the state is the raw input, whatever it claims', () => event('FAILED',
      { operationId: OPERATION_ID, copyRequired: true, copy: { snapshotIdentifier: COPY_ID }, error: { Error: 'InvalidInput', Cause: 'x' } },
      { operationId: OPERATION_ID, copyRequired: true })],
    ['the state is another execution\'s', () => event('FAILED', makeState({ executionArn: `${EXECUTION_ARN}-other`, copy: copyProgress(), error: timedOut }))],
  ])('nothing to clean when %s: RDS is not called', async (_what, make) => {
    copyExists();
    const out = await handler(make());
    expect(rdsMock.calls()).toHaveLength(0);
    expect(out.snapshotCopy).toBeUndefined();
    expect(published().body.snapshotCopy).toBeUndefined();
  });
});
