import {
  AddTagsToResourceCommand,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  ListTagsForResourceCommand,
  RDSClient,
  Tag,
} from '@aws-sdk/client-rds';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
  makeStatusChangeEvent,
  makeRestoreProgress,
  makeState,
  OPERATION_ID,
  ownTags,
  sentText,
  SOURCE_SNAPSHOT_ARN,
  SOURCE_SNAPSHOT_ID,
  TARGET_REGION,
  useConfig,
  holdLock,
} from './support/factories';
import { temporaryClusterIdentifier } from '../../lambda-src/lib/naming';
import { handler, subjectLine } from '../../lambda-src/sns-notification';
import { CopyProgress, ExecutionStatusChangeEvent, NotificationEvent, PipelineErrorName, PipelineTag } from '../../src/contracts';

const snsMock = mockClient(SNSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const rdsMock = mockClient(RDSClient);
const sfnMock = mockClient(SFNClient);

function event(status: string, state: unknown, input: unknown = {}): NotificationEvent {
  return { status, state, executionArn: EXECUTION_ARN, executionName: OPERATION_ID, executionStartTime: '2026-11-22T10:00:00.000Z', input };
}
/** The status Step Functions reports for the execution now (DescribeExecution); by default the stopped event's. */
let currentStatus: string | undefined;
const published = () => {
  const input = snsMock.commandCalls(PublishCommand)[0].args[0].input;
  return { ...input, body: JSON.parse(input.Message!) };
};

const successState = makeState({
  restore: makeRestoreProgress(),

  dbUsers: { created: ['app_user'], updated: [], databases: ['app'], disabledLogins: ['prod_app'], revokedMemberships: [] },
  validation: { passed: 3, checks: ['built-in:master-login', 'built-in:database:app', 'orders'] },
  archive: { action: 'deleted', snapshotIdentifier: 'staging-db-op-1' },
});

beforeEach(() => {
  snsMock.reset();
  ddbMock.reset();
  rdsMock.reset();
  sfnMock.reset();
  // Step Functions reports the execution as the event does: stopped, never redriven.
  currentStatus = undefined;
  sfnMock.on(DescribeExecutionCommand).callsFake(() => ({ status: currentStatus, redriveCount: 0 }));
  // By default no copy exists in the target region.
  rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
  rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault'));
  rdsMock.on(DeleteDBClusterSnapshotCommand).resolves({});
  rdsMock.on(AddTagsToResourceCommand).resolves({});
  ddbMock.onAnyCommand().resolves({});
  holdLock(ddbMock);
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
      validation: { passed: 3, checks: ['built-in:master-login', 'built-in:database:app', 'orders'] },
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

  test('success with a full audit trail: the run figures go to the state item, the message and, after the publish, one EMF line', async () => {
    const logs = captureLogs();
    ddbMock.on(QueryCommand).resolves({
      Items: [
        { operation_id: OPERATION_ID, time_step: '2026-11-22T10:00:01.000Z#SnapshotCheck', step: 'SnapshotCheck', outcome: 'SUCCEEDED', duration_ms: 800 },
        { operation_id: OPERATION_ID, time_step: '2026-11-22T10:00:03.000Z#RestoreSnapshot', step: 'RestoreSnapshot', outcome: 'IN_PROGRESS', duration_ms: 1000 },
        { operation_id: OPERATION_ID, time_step: '2026-11-22T10:20:00.000Z#CheckRestoreStatus', step: 'CheckRestoreStatus', outcome: 'SUCCEEDED', duration_ms: 500 },
        { operation_id: OPERATION_ID, time_step: '2026-11-22T10:20:10.000Z#SetupDbUsers', step: 'SetupDbUsers', outcome: 'SUCCEEDED', duration_ms: 9000 },
      ],
    });
    const out = await handler(event('SUCCEEDED', successState));
    const figures = {
      startedAt: '2026-11-22T10:00:00.000Z',
      readyAt: '2026-11-22T10:20:10.000Z',
      restoreSeconds: 1210,
      snapshotCreatedAt: '2026-11-01T00:00:00.000Z',
      snapshotAgeSeconds: 21 * 86400 + 10 * 3600 + 1210,
      phaseSeconds: { RESTORE: 1198, USERS: 9 },
    };
    expect(out.figures).toEqual(figures);
    expect(published().body.figures).toEqual(figures);
    expect(ddbMock.commandCalls(UpdateCommand)[0].args[0].input.ExpressionAttributeValues).toMatchObject({ ':runFigures': figures });
    const emf = logs.lines.filter((l) => l.includes('"_aws"'));
    expect(emf).toHaveLength(1);
    expect(JSON.parse(emf[0])).toMatchObject({ TargetCluster: 'staging-db', operationId: OPERATION_ID, RestoreTime: 1210, RestorePhaseTime: 1198, UsersTime: 9 });
  });

  test('success without a SetupDbUsers entry: no figures and no metrics, a warning says why, still notified', async () => {
    const logs = captureLogs();
    const out = await handler(event('SUCCEEDED', successState));
    expect(out.figures).toBeUndefined();
    expect(logs.lines.some((l) => l.includes('"_aws"'))).toBe(false);
    expect(logs.lines.some((l) => l.includes('no run figures: the audit trail has no SetupDbUsers entry'))).toBe(true);
  });

  test('a failed publish emits no metric (the retry would count the run twice)', async () => {
    const logs = captureLogs();
    ddbMock.on(QueryCommand).resolves({
      Items: [{ operation_id: OPERATION_ID, time_step: '2026-11-22T10:20:10.000Z#SetupDbUsers', step: 'SetupDbUsers', outcome: 'SUCCEEDED', duration_ms: 9000 }],
    });
    snsMock.on(PublishCommand).rejects(awsError('ThrottlingException'));
    await expect(handler(event('SUCCEEDED', successState))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(logs.lines.some((l) => l.includes('"_aws"'))).toBe(false);
  });

  test('dry run: publishes the checklist; no lock, state item, audit entry or snapshot copy is touched', async () => {
    const checks = [
      { id: 'kms.copy-key', status: 'PASSED', reason: 'KMS key k exists.' },
      { id: 'network.subnet-group', status: 'FAILED', reason: 'DB subnet group g does not exist.', fix: 'Create it.' },
    ];
    const state = {
      dryRun: true,
      operationId: OPERATION_ID,
      executionArn: EXECUTION_ARN,
      targetClusterIdentifier: 'staging-db',
      targetRegion: TARGET_REGION,
      snapshot: makeState().snapshot,
      preflight: { passed: false, checks, summary: '1 of 2 preflight checks failed' },
    };
    const out = await handler(event('DRY_RUN', state, { dryRun: true, requestedBy: 'ops' }));
    expect(out).toEqual({ status: 'DRY_RUN', operationId: OPERATION_ID, messageId: 'msg-1', lockReleased: false });
    const msg = published();
    expect(msg.Subject).toBe('Aurora restore dry run FAILED: staging-db (op-1)');
    expect(msg.MessageAttributes?.status).toEqual({ DataType: 'String', StringValue: 'DRY_RUN' });
    expect(msg.body).toMatchObject({
      status: 'DRY_RUN',
      dryRun: { passed: false, summary: '1 of 2 preflight checks failed' },
      operationId: OPERATION_ID,
      requestedBy: 'ops',
      snapshot: { identifier: SOURCE_SNAPSHOT_ID },
      checks,
    });
    expect(ddbMock.calls()).toEqual([]);
    expect(rdsMock.calls()).toEqual([]);

    snsMock.resetHistory();
    await handler(event('DRY_RUN', { ...state, snapshot: undefined, preflight: { passed: true, checks: [], summary: 'All passed' } }, { dryRun: true }));
    expect(published().Subject).toBe('Aurora restore dry run PASSED: staging-db (op-1)');
    expect(published().body.snapshot).toBeUndefined();
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

describe('sns-notification: what the failure path repeats of an unvalidated input', () => {
  test('a 250 KB requestedBy and snapshotIdentifier are cut to 256 characters: the message stays far below SNS\'s 256 KB', async () => {
    const huge = 'x'.repeat(250 * 1024);
    const invalid = { Error: 'InvalidInput', Cause: JSON.stringify({ errorMessage: 'requestedBy is too long' }) };
    await handler(event('FAILED', { error: invalid }, { requestedBy: huge, snapshotIdentifier: huge }));
    const message = published();
    expect(Buffer.byteLength(message.Message!)).toBeLessThan(8 * 1024);
    expect(message.body.requestedBy).toHaveLength(257);
    expect(message.body.snapshot.requested).toHaveLength(257);
    const updates = JSON.stringify(ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input));
    expect(updates.length).toBeLessThan(8 * 1024);
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

  test('LockLost (a redrive after a newer run): the copy is left untouched, not even described; still notified', async () => {
    holdLock(ddbMock, { operationId: 'nightly-2', executionArn: `${EXECUTION_ARN}-newer` });
    copyExists();
    const lost = { Error: PipelineErrorName.LOCK_LOST, Cause: JSON.stringify({ errorMessage: 'no longer holds the lock' }) };
    const out = await handler(event('FAILED', makeState({ copy: copyProgress(), error: lost })));
    expect(rdsMock.calls()).toHaveLength(0);
    expect(out).toMatchObject({ snapshotCopy: { identifier: COPY_ID, action: 'untouched' } });
    expect(out.snapshotCopy!.detail).toContain('it is held by operation nightly-2');
    expect(out.snapshotCopy!.detail).toContain('The snapshot copy was not touched.');
    expect(published().body).toMatchObject({ status: 'FAILED', error: { name: 'LockLost' }, snapshotCopy: { action: 'untouched' } });
  });

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
    expect(published().body.snapshotCopy).toMatchObject({ action: 'failed', advice: expect.stringMatching(new RegExp(`^Tag snapshot ${COPY_ID} in eu-central-1 with aurora-restore-pipeline:retained=true by hand`)) });
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

describe('sns-notification: executions stopped by hand or past the timeout (EventBridge)', () => {
  const LOCK = 'LOCK#staging-db';
  const lockItem = (operationId = OPERATION_ID, executionArn = EXECUTION_ARN) => ({
    holder_operation_id: operationId, holder_execution_arn: executionArn, acquired_at: '2026-11-22T10:00:01.000Z', expires_at: 1_795_000_000,
  });
  const runningItem = () => ({
    execution_arn: EXECUTION_ARN,
    status: 'RUNNING',
    step: 'CheckCopyStatus',
    snapshot_identifier: SOURCE_SNAPSHOT_ID,
    snapshot_arn: SOURCE_SNAPSHOT_ARN,
    requested_by: 'nightly',
    started_at: '2026-11-22T10:00:01.000Z',
  });

  /**
   * The state table behind the mocked document client, with DynamoDB's semantics for what the handler sends:
   * GetItem, UpdateItem (SET, with its condition on the execution) and the conditional DeleteItem of the lock.
   */
  function stateTable(initial: Record<string, Record<string, unknown>>, order: string[] = []) {
    const items = new Map<string, Record<string, any>>(Object.entries(initial).map(([k, v]) => [k, { operation_id: k, ...v }]));
    const conditionFailed = () => awsError('ConditionalCheckFailedException', 'The conditional request failed');
    ddbMock.on(GetCommand).callsFake((input) => {
      const item = input.TableName === 'state-table' ? items.get(input.Key.operation_id) : undefined;
      return { Item: item ? structuredClone(item) : undefined };
    });
    ddbMock.on(UpdateCommand).callsFake((input) => {
      const key = input.Key.operation_id as string;
      const values = input.ExpressionAttributeValues as Record<string, unknown>;
      const existing = items.get(key);
      if (existing && existing.execution_arn !== values[':arn']) throw conditionFailed();
      const next: Record<string, any> = { ...existing, operation_id: key };
      for (const [name, attribute] of Object.entries(input.ExpressionAttributeNames as Record<string, string>)) {
        if (name === '#pk') continue;
        if (name === '#arn') next.execution_arn ??= values[':arn'];
        else next[attribute] = values[`:${name.slice(1)}`];
      }
      items.set(key, next);
      order.push(`update ${key}`);
      return {};
    });
    ddbMock.on(DeleteCommand).callsFake((input) => {
      const key = input.Key.operation_id as string;
      const values = input.ExpressionAttributeValues as Record<string, unknown>;
      const existing = items.get(key);
      if (!existing || existing.holder_operation_id !== values[':op'] || existing.holder_execution_arn !== values[':arn']) throw conditionFailed();
      items.delete(key);
      order.push(`delete ${key}`);
      return {};
    });
    return items;
  }
  const copyExists = (status = 'copying', tags: Tag[] = ownTags()) => rdsMock
    .on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
    .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: status, TagList: tags }] });
  const rdsMutations = () => [...rdsMock.commandCalls(DeleteDBClusterSnapshotCommand), ...rdsMock.commandCalls(AddTagsToResourceCommand)];
  const ddbWrites = () => [...ddbMock.commandCalls(UpdateCommand), ...ddbMock.commandCalls(DeleteCommand)];
  const invoke = (e: unknown) => {
    const status = (e as { detail?: { status?: string } })?.detail?.status;
    if (currentStatus === undefined && typeof status === 'string') sfnMock.on(DescribeExecutionCommand).resolves({ status: status as any, redriveCount: 0 });
    return handler(e as ExecutionStatusChangeEvent);
  };

  test.each([
    ['RUNNING again (redriven after it stopped)', 'RUNNING', 0, undefined],
    ['redriven and stopped again since this event (a later event settles it)', 'ABORTED', 2, 1],
  ])('a late ABORTED event of an execution %s: nothing settled, nothing published, the lock kept', async (_what, status, redriveCount, eventCount) => {
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    copyExists('copying');
    currentStatus = status;
    sfnMock.on(DescribeExecutionCommand).resolves({ status: status as any, redriveCount });
    const out = await invoke(makeStatusChangeEvent('ABORTED', eventCount === undefined ? {} : { redriveCount: eventCount }));
    expect(sfnMock.commandCalls(DescribeExecutionCommand)[0].args[0].input).toEqual({ executionArn: EXECUTION_ARN });
    expect(out).toMatchObject({ status: 'ABORTED', lockReleased: false, skipped: expect.stringContaining(status === 'RUNNING' ? 'is RUNNING now' : 'was redriven 1 time(s)') });
    expect(items.get(LOCK)).toMatchObject(lockItem());
    expect(items.get(OPERATION_ID)).toMatchObject({ status: 'RUNNING' });
    expect(rdsMock.calls()).toHaveLength(0);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'SnsNotification', outcome: 'SKIPPED' });
  });

  test('an execution Step Functions does not know is not running: settled as usual', async () => {
    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    currentStatus = 'gone';
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('ExecutionDoesNotExist'));
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).resolves.toMatchObject({ lockReleased: true });
  });

  test('ABORTED, holding the lock: copy deleted, operation FAILED with ExecutionAborted, notified, then the lock released', async () => {
    const order: string[] = [];
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() }, order);
    copyExists('copying');
    rdsMock.on(DeleteDBClusterSnapshotCommand).callsFake(() => {
      order.push('delete copy');
      return {};
    });
    snsMock.on(PublishCommand).callsFake(() => {
      order.push('publish');
      return { MessageId: 'msg-1' };
    });

    const out = await invoke(makeStatusChangeEvent('ABORTED'));

    expect(order).toEqual(['delete copy', `update ${OPERATION_ID}`, 'publish', `delete ${LOCK}`]);
    expect(out).toMatchObject({ status: 'ABORTED', operationId: OPERATION_ID, messageId: 'msg-1', lockReleased: true, snapshotCopy: { identifier: COPY_ID, action: 'deleted', status: 'copying' } });
    expect(items.has(LOCK)).toBe(false);
    const release = ddbMock.commandCalls(DeleteCommand)[0].args[0].input;
    expect(release).toMatchObject({ Key: { operation_id: LOCK }, ExpressionAttributeValues: { ':op': OPERATION_ID, ':arn': EXECUTION_ARN } });

    const state = items.get(OPERATION_ID)!;
    expect(state).toMatchObject({
      status: 'FAILED',
      error_name: PipelineErrorName.EXECUTION_ABORTED,
      finished_at: '2026-11-22T11:00:00.000Z',
      execution_arn: EXECUTION_ARN,
      step: 'CheckCopyStatus',
      requested_by: 'nightly',
    });
    expect(state.error_message).toMatch(/^Execution op-1 was stopped \(ABORTED\) at 2026-11-22T11:00:00\.000Z during CheckCopyStatus, so it never reached its failure notification\. /);
    expect(state.error_message).toContain(`Deleted snapshot copy ${COPY_ID} in ${TARGET_REGION}`);
    expect(state.error_message).toContain('A cluster being restored or deleted is NOT deleted: check staging-db in the RDS console');
    expect(state.error_message).toContain('the next run replaces a target this pipeline owns as usual.');

    const msg = published();
    expect(msg.Subject).toBe('Aurora restore ABORTED: staging-db (op-1)');
    expect(msg.MessageAttributes?.status).toEqual({ DataType: 'String', StringValue: 'ABORTED' });
    expect(msg.body).toMatchObject({
      status: 'ABORTED',
      operationId: OPERATION_ID,
      executionArn: EXECUTION_ARN,
      consoleLink: `https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/${EXECUTION_ARN}`,
      requestedBy: 'nightly',
      snapshot: { identifier: SOURCE_SNAPSHOT_ID, arn: SOURCE_SNAPSHOT_ARN },
      lastStep: 'CheckCopyStatus',
      snapshotCopy: { identifier: COPY_ID, region: TARGET_REGION, action: 'deleted', status: 'copying' },
      startedAt: '2026-11-22T10:00:00.000Z',
      finishedAt: '2026-11-22T11:00:00.000Z',
      stepDurationsMs: { SnapshotCheck: 800, CheckCopyStatus: 250 },
      error: { name: 'ExecutionAborted', cause: state.error_message },
    });
    expect(auditItems(ddbMock)).toEqual([expect.objectContaining({
      operation_id: OPERATION_ID,
      step: 'SnsNotification',
      outcome: 'SUCCEEDED',
      details: expect.objectContaining({ status: 'ABORTED', lockReleased: true, errorName: 'ExecutionAborted', executionArn: EXECUTION_ARN, snapshotCopyAction: 'deleted' }),
    })]);
  });

  test('TIMED_OUT: recorded as ExecutionTimedOut with the timeout and what to raise; a retained copy is kept and tagged', async () => {
    useConfig({ retainSnapshotCopy: true });
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: { ...runningItem(), step: 'CheckRestoreStatus' } });
    copyExists('available');

    const out = await invoke(makeStatusChangeEvent('TIMED_OUT'));

    expect(out).toMatchObject({ status: 'TIMED_OUT', lockReleased: true, snapshotCopy: { action: 'retained' } });
    expect(rdsMock.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input)).toEqual([
      { ResourceName: COPY_ARN, Tags: [{ Key: PipelineTag.RETAINED, Value: 'true' }] },
    ]);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(0);
    expect(items.has(LOCK)).toBe(false);
    const state = items.get(OPERATION_ID)!;
    expect(state).toMatchObject({ status: 'FAILED', error_name: PipelineErrorName.EXECUTION_TIMED_OUT });
    expect(state.error_message).toMatch(/^Execution op-1 ran past the pipeline's timeout of 86400s \(TIMED_OUT\) at 2026-11-22T11:00:00\.000Z during CheckRestoreStatus/);
    expect(state.error_message).toContain('raise the pipeline\'s timeout (and waitBudget)');
    expect(published().Subject).toBe('Aurora restore TIMED_OUT: staging-db (op-1)');
    expect(published().body).toMatchObject({ status: 'TIMED_OUT', error: { name: 'ExecutionTimedOut' }, snapshotCopy: { action: 'retained' } });
  });

  test('same region: no copy to settle; RDS is only asked for a swap\'s temporary cluster', async () => {
    useConfig({ sourceRegion: TARGET_REGION });
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    const out = await invoke(makeStatusChangeEvent('ABORTED'));
    expect(rdsMock.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeDBClustersCommand']);
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)[0].args[0].input).toEqual({ DBClusterIdentifier: temporaryClusterIdentifier('staging-db', 'op-1') });
    expect(out.temporaryCluster).toMatchObject({ action: 'none' });
    expect(out.snapshotCopy).toBeUndefined();
    expect(items.get(OPERATION_ID)).toMatchObject({ status: 'FAILED', error_name: 'ExecutionAborted' });
    expect(items.has(LOCK)).toBe(false);
  });

  test.each([
    ['a newer run holds the lock', () => ({ [LOCK]: lockItem('op-2', `${EXECUTION_ARN}-2`), [OPERATION_ID]: runningItem() }), /held by operation op-2 \(execution .*:op-1-2\), not by this execution/],
    ['the same operation ID under another execution holds it', () => ({ [LOCK]: lockItem(OPERATION_ID, `${EXECUTION_ARN}-2`) }), /held by operation op-1/],
    ['no lock exists (stopped before taking it)', () => ({}), /No lock on staging-db is held \(LOCK#staging-db does not exist\)/],
  ])('%s: nothing is changed, a short notification says so', async (_what, initial, reason) => {
    const items = stateTable(initial());
    const before = structuredClone([...items.entries()]);
    copyExists('copying');

    const out = await invoke(makeStatusChangeEvent('ABORTED'));

    expect(out).toMatchObject({ status: 'ABORTED', operationId: OPERATION_ID, messageId: 'msg-1', lockReleased: false, skipped: expect.stringMatching(reason) });
    expect(ddbWrites()).toHaveLength(0);
    expect([...items.entries()]).toEqual(before);
    expect(rdsMock.calls()).toHaveLength(0);
    expect(published().body).toMatchObject({ status: 'ABORTED', operationId: OPERATION_ID, settled: false, detail: expect.stringMatching(reason) });
    expect(published().body.detail).toContain('Nothing was changed');
    expect(auditItems(ddbMock)).toEqual([expect.objectContaining({ step: 'SnsNotification', outcome: 'SKIPPED', details: expect.objectContaining({ status: 'ABORTED', messageId: 'msg-1' }) })]);
  });

  test('the same event delivered again: the first settles, the second finds it settled and changes nothing, publishes nothing', async () => {
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
      .resolvesOnce({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: COPY_ARN, Status: 'copying', TagList: ownTags() }] })
      .rejects(awsError('DBClusterSnapshotNotFoundFault'));

    const first = await invoke(makeStatusChangeEvent('ABORTED'));
    const settled = structuredClone([...items.entries()]);
    const second = await invoke(makeStatusChangeEvent('ABORTED'));

    expect(first).toMatchObject({ lockReleased: true, messageId: 'msg-1' });
    expect(second).toMatchObject({ status: 'ABORTED', operationId: OPERATION_ID, lockReleased: false, skipped: expect.stringContaining('already settled') });
    expect(second.messageId).toBeUndefined();
    expect([...items.entries()]).toEqual(settled);
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(1);
    expect(rdsMock.commandCalls(DeleteDBClusterSnapshotCommand)).toHaveLength(1);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    expect(auditItems(ddbMock).map((a) => a.outcome)).toEqual(['SUCCEEDED', 'SKIPPED']);
  });

  test('throttling before the lock is released is raised (Lambda retries the event); the retry settles it', async () => {
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    const update = ddbMock.on(UpdateCommand);
    update.rejectsOnce(awsError('ThrottlingException'));
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(items.has(LOCK)).toBe(true);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);

    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    snsMock.on(PublishCommand).rejectsOnce(awsError('ThrottlingException')).resolves({ MessageId: 'msg-2' });
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(0);
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).resolves.toMatchObject({ messageId: 'msg-2', lockReleased: true });
  });

  test('throttled copy cleanup is raised too, before anything is written', async () => {
    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    copyExists('copying');
    rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('ThrottlingException'));
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(ddbWrites()).toHaveLength(0);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('a publish that fails keeps the lock (the retry notifies); a state item that cannot be written does not stop the notification', async () => {
    let items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    snsMock.on(PublishCommand).rejectsOnce(awsError('AuthorizationError', 'not allowed to publish'));
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).rejects.toMatchObject({ name: 'AuthorizationError' });
    expect(items.has(LOCK)).toBe(true);

    items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    ddbMock.on(UpdateCommand).rejects(awsError('AccessDeniedException', 'not allowed'));
    snsMock.on(PublishCommand).resolves({ MessageId: 'msg-3' });
    await expect(invoke(makeStatusChangeEvent('ABORTED'))).resolves.toMatchObject({ messageId: 'msg-3', lockReleased: true });
    expect(items.has(LOCK)).toBe(false);
    expect(published().body.error.name).toBe('ExecutionAborted');
  });

  test('a copy RDS refuses to delete: reported with what to do, the rest still done', async () => {
    const items = stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    copyExists('copying');
    rdsMock.on(DeleteDBClusterSnapshotCommand).rejects(awsError('InvalidDBClusterSnapshotStateFault', 'Cannot delete the snapshot in its current state'));
    const out = await invoke(makeStatusChangeEvent('TIMED_OUT'));
    expect(out).toMatchObject({ lockReleased: true, snapshotCopy: { action: 'failed', errorName: 'InvalidDBClusterSnapshotStateFault' } });
    expect(items.get(OPERATION_ID)!.error_message).toContain(`Delete snapshot ${COPY_ID} in ${TARGET_REGION} by hand`);
  });

  test('a snapshot with the copy name but another operation\'s tags is left alone', async () => {
    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    copyExists('available', ownTags('op-0'));
    const out = await invoke(makeStatusChangeEvent('ABORTED'));
    expect(rdsMutations()).toHaveLength(0);
    expect(out.snapshotCopy).toMatchObject({ identifier: COPY_ID, action: 'untouched' });
  });

  const malformed: Array<[string, () => unknown, string]> = [
    ['another source', () => ({ ...makeStatusChangeEvent(), source: 'aws.rds' }), 'source'],
    ['another detail-type', () => ({ ...makeStatusChangeEvent(), 'detail-type': 'Scheduled Event' }), 'detail-type'],
    ['no detail', () => ({ ...makeStatusChangeEvent(), detail: undefined }), 'detail'],
    ['a detail that is a string', () => ({ ...makeStatusChangeEvent(), detail: '{}' }), 'detail'],
    ['no execution ARN', () => makeStatusChangeEvent('ABORTED', { executionArn: undefined as unknown as string }), 'detail.executionArn'],
    ['a state machine ARN as execution ARN', () => makeStatusChangeEvent('ABORTED', { executionArn: 'arn:aws:states:eu-central-1:123456789012:stateMachine:restore' }), 'detail.executionArn'],
    ['status FAILED', () => makeStatusChangeEvent('FAILED'), 'detail.status'],
    ['status SUCCEEDED', () => makeStatusChangeEvent('SUCCEEDED'), 'detail.status'],
    ['no name', () => makeStatusChangeEvent('ABORTED', { name: '' }), 'detail.name'],
    ['a start date as text', () => makeStatusChangeEvent('ABORTED', { startDate: '2026-11-22' as unknown as number }), 'detail.startDate'],
    ['an input that is an object', () => makeStatusChangeEvent('ABORTED', { input: {} as unknown as string }), 'detail.input'],
  ];
  test.each(malformed)('malformed event (%s): InvalidInput naming the field, nothing read or changed', async (_what, make, field) => {
    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    const err = await invoke(make()).then(() => undefined, (e: Error) => e);
    expect(err).toMatchObject({ name: 'InvalidInput' });
    expect(err!.message).toMatch(new RegExp(`^The sns-notification function received an EventBridge event whose ${field.replace('.', '\\.')} `));
    expect(err!.message).toContain('Nothing was changed.');
    expect(ddbMock.calls()).toHaveLength(0);
    expect(rdsMock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  test('nothing from the execution input but requestedBy and operationId is repeated anywhere', async () => {
    const logs = captureLogs();
    const secret = 'pw-Zx81-not-for-anyone';
    const input = JSON.stringify({ requestedBy: 'nightly', password: secret, note: `token ${secret}` });
    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    copyExists('copying');
    await invoke(makeStatusChangeEvent('ABORTED', { input }));
    await invoke(makeStatusChangeEvent('TIMED_OUT', { input, executionArn: `${EXECUTION_ARN}-x`, name: 'other' }));
    const everything = `${sentText(ddbMock, rdsMock, snsMock)}\n${logs.lines.join('\n')}`;
    expect(everything).toContain('nightly');
    expect(everything).not.toContain(secret);
  });

  test('the event from the state machine is still told apart: a NotificationEvent never goes down this path', async () => {
    stateTable({ [LOCK]: lockItem(), [OPERATION_ID]: runningItem() });
    const out = await handler(event('FAILED', makeState({ copyRequired: false, error: { Error: 'X', Cause: 'y' } })));
    expect(out.status).toBe('FAILED');
    expect(published().body.error).toEqual({ name: 'X', cause: 'y' });
  });
});
