import { DescribeDBClusterSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { auditItems, awsError, COPY_ID, DynamoDBDocumentClient, makeState, resetBetweenTests, secondsAgo } from './support/factories';
import { handler } from '../../lambda-src/check-copy-status';
import { CopyProgress, PipelineErrorName } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

function previous(overrides: Partial<CopyProgress> = {}): CopyProgress {
  return {
    done: false,
    status: 'creating',
    attempt: 0,
    waitStartedAt: secondsAgo(60),
    nextWaitSeconds: 30,
    snapshotIdentifier: COPY_ID,
    snapshotArn: 'arn:copy',
    kmsKeyId: 'copy-key',
    ...overrides,
  };
}
const reportStatus = (Status: string, PercentProgress?: number) =>
  rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: COPY_ID })
    .resolves({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: COPY_ID, DBClusterSnapshotArn: 'arn:copy', Status, PercentProgress, KmsKeyId: 'copy-key' }] });

resetBetweenTests(rdsMock, ddbMock);

describe('check-copy-status', () => {
  test('in progress: keeps the start time, counts the attempt and waits for the completion its progress predicts', async () => {
    reportStatus('copying', 55);
    const prev = previous({ attempt: 2 });
    const out = await handler(makeState({ copy: prev }));
    // 55-56 % in 60 s: done in 47 to 49 s; checks become frequent 15 s (half a poll) before the earliest, 32 s from
    // now; the wait is half of that, but never below pollInterval (30 s).
    expect(out).toEqual({
      ...prev,
      done: false,
      status: 'copying',
      percentProgress: 55,
      attempt: 3,
      nextWaitSeconds: 30,
      checkedAt: expect.any(String),
      phaseStartedAt: prev.waitStartedAt,
      waitBasis: 'progress',
    });
    expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'CheckCopyStatus', outcome: 'IN_PROGRESS', details: { status: 'copying', attempt: 3 } });
  });

  test('the wait is capped at maxPollIntervalSeconds; without progress the backoff stops at the fallback cap', async () => {
    reportStatus('copying', 1);
    expect((await handler(makeState({ copy: previous({ attempt: 20 }) }))).nextWaitSeconds).toBe(300);
    reportStatus('copying');
    expect((await handler(makeState({ copy: previous({ attempt: 20, rampStep: 8 }) }))).nextWaitSeconds).toBe(90);
  });

  test('a finished copy goes into the target\'s history once', async () => {
    reportStatus('available', 100);
    await handler(makeState({ copy: previous({ checkedAt: secondsAgo(20) }) }));
    const put = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input).find((i) => String(i.Item?.operation_id).startsWith('HISTORY#'));
    // Finished between the last check (20 s ago) and now: recorded as 50 s after the start (60 s ago).
    expect(put?.Item).toMatchObject({ operation_id: 'HISTORY#staging-db', phases: { copy: [{ operationId: 'op-1', seconds: 50 }] } });
  });

  test('available: done', async () => {
    reportStatus('available', 100);
    const out = await handler(makeState({ copy: previous() }));
    expect(out).toMatchObject({ done: true, status: 'available', snapshotIdentifier: COPY_ID });
    expect(auditItems(ddbMock)[0].outcome).toBe('SUCCEEDED');
  });

  test('a second call with the same state reports the same thing (read only)', async () => {
    reportStatus('copying', 10);
    const state = makeState({ copy: previous() });
    const { checkedAt: _a, ...first } = await handler(state);
    const { checkedAt: _b, ...second } = await handler(state);
    expect(first).toEqual(second);
    expect(rdsMock.calls().every((c) => c.args[0] instanceof DescribeDBClusterSnapshotsCommand)).toBe(true);
  });

  test('OperationTimedOut past the budget, naming the copy, elapsed time and budget', async () => {
    reportStatus('copying');
    const err = await handler(makeState({ copy: previous({ waitStartedAt: secondsAgo(3700) }) })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.OPERATION_TIMED_OUT);
    expect(err.message).toContain(COPY_ID);
    expect(err.message).toMatch(/Waited 370\ds/);
    expect(err.message).toContain('budget of 3600s');
    expect(err.message).toContain('waitBudget');
  });

  test('a copy that finishes past the budget is still done, not timed out', async () => {
    reportStatus('available');
    expect((await handler(makeState({ copy: previous({ waitStartedAt: secondsAgo(99999) }) }))).done).toBe(true);
  });

  test('SnapshotCopyFailed when the copy failed', async () => {
    reportStatus('failed');
    const err = await handler(makeState({ copy: previous() })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_COPY_FAILED);
    expect(err.message).toContain("'failed'");
  });

  test('SnapshotCopyFailed when the copy disappeared', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    const err = await handler(makeState({ copy: previous() })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_COPY_FAILED);
    expect(err.message).toContain('disappeared');
  });

  test('InvalidInput without $.copy', async () => {
    await expect(handler(makeState())).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT });
  });

  test('throttling passes through under its SDK name', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    await expect(handler(makeState({ copy: previous() }))).rejects.toMatchObject({ name: 'Throttling' });
  });
});
