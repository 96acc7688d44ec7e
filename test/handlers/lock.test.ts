/*
 * Only the lock holder acts: every step that changes something first verifies, with a consistent read, that its
 * operation and execution hold the target's lock; a redriven execution re-takes a free lock only when no other
 * operation took it since. Otherwise LockLost, before any change.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  auditItems,
  awsError,
  DEFAULT_DB_USERS,
  DynamoDBDocumentClient,
  EXECUTION_ARN,
  holdLock,
  makeConfig,
  makeCopyProgress,
  makeRestoreProgress,
  makeState,
  OPERATION_ID,
  resetBetweenTests,
} from './support/factories';
import { handler as archiveSnapshot } from '../../lambda-src/archive-snapshot';
import { handler as checkRestoreStatus } from '../../lambda-src/check-restore-status';
import { handler as copySnapshot } from '../../lambda-src/copy-snapshot';
import { handler as deleteRds } from '../../lambda-src/delete-rds';
import { assertLockHeld, LockCheck } from '../../lambda-src/lib/lock';
import { handler as restoreSnapshot } from '../../lambda-src/restore-snapshot';
import { handler as setupDbUsers } from '../../lambda-src/setup-db-users';
import { handler as validateRestore } from '../../lambda-src/validate-restore';
import { PipelineErrorName, UnmanagedLogins } from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const smMock = mockClient(SecretsManagerClient);
resetBetweenTests(rdsMock, ddbMock);
beforeEach(() => smMock.reset());

const NEWER = { operationId: 'nightly-2', executionArn: `${EXECUTION_ARN}-newer` };
const US = { operationId: OPERATION_ID, executionArn: EXECUTION_ARN };

const state = makeState({ copy: makeCopyProgress(), restore: makeRestoreProgress({ done: false, masterPasswordReset: false }) });
const steps: Array<[string, () => Promise<unknown>]> = [
  ['CopySnapshot', () => copySnapshot(state)],
  ['DeleteRds', () => deleteRds(state)],
  ['RestoreSnapshot', () => restoreSnapshot(state)],
  ['CheckRestoreStatus', () => checkRestoreStatus(state)],
  ['SetupDbUsers', () => setupDbUsers({ state, users: DEFAULT_DB_USERS, unmanagedLogins: UnmanagedLogins.DISABLE })],
  ['ValidateRestore', () => validateRestore({ state, databases: ['app'], queries: [], statementTimeoutSeconds: 30 })],
  ['ArchiveSnapshot', () => archiveSnapshot(state)],
];

describe('every step that changes something checks the lock first', () => {
  test.each(steps)('%s: lock held by a newer operation → LockLost naming it; no RDS or Secrets Manager call', async (step, run) => {
    holdLock(ddbMock, NEWER);
    const err = await run().catch((e: Error) => e) as Error;
    expect(err.name).toBe(PipelineErrorName.LOCK_LOST);
    expect(err.message).toBe(`This execution (${EXECUTION_ARN}) of operation op-1 no longer holds the lock of target cluster staging-db: `
      + `it is held by operation nightly-2 (execution ${NEWER.executionArn}) since 2026-11-22T10:00:00.000Z. Nothing was changed by this step. `
      + 'A redriven execution continues only while no other operation has run on the target since it lost the lock; start a new restore instead.');
    expect(rdsMock.calls()).toHaveLength(0);
    expect(smMock.calls()).toHaveLength(0);
    expect(ddbMock.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(auditItems(ddbMock)[0]).toMatchObject({ step, outcome: 'FAILED', details: { errorName: 'LockLost' } });
  });

  test.each(steps)('%s: lock free and a newer operation took it since (a redrive after a newer run) → LockLost, nothing re-taken', async (_step, run) => {
    holdLock(ddbMock, 'free', NEWER);
    const err = await run().catch((e: Error) => e) as Error;
    expect(err.name).toBe(PipelineErrorName.LOCK_LOST);
    expect(err.message).toContain(`it is free, and operation nightly-2 (execution ${NEWER.executionArn}) took it since, at 2026-11-22T12:00:00.000Z`);
    expect(rdsMock.calls()).toHaveLength(0);
    expect(ddbMock.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});

describe('assertLockHeld', () => {
  const config = makeConfig();

  test('held by this operation and execution: HELD, read consistently, nothing written', async () => {
    expect(await assertLockHeld(config, US)).toBe(LockCheck.HELD);
    const reads = ddbMock.commandCalls(GetCommand).map((c) => c.args[0].input);
    expect(reads).toEqual([{ TableName: 'state-table', Key: { operation_id: 'LOCK#staging-db' }, ConsistentRead: true }]);
    expect(ddbMock.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  test('held by the same operation under another execution (a second execution with that id) is not ours', async () => {
    holdLock(ddbMock, { operationId: OPERATION_ID, executionArn: `${EXECUTION_ARN}-2` });
    await expect(assertLockHeld(config, US)).rejects.toMatchObject({ name: 'LockLost' });
  });

  test('free and this execution was the last to take it (a redrive): RETAKEN in one transaction conditioned on the record', async () => {
    holdLock(ddbMock, 'free', US);
    const now = new Date('2026-11-23T08:00:00.000Z');
    expect(await assertLockHeld(config, US, { now })).toBe(LockCheck.RETAKEN);
    const [call] = ddbMock.commandCalls(TransactWriteCommand);
    expect(call.args[0].input.TransactItems).toEqual([
      {
        Put: {
          TableName: 'state-table',
          Item: {
            operation_id: 'LOCK#staging-db',
            holder_operation_id: OPERATION_ID,
            holder_execution_arn: EXECUTION_ARN,
            acquired_at: '2026-11-23T08:00:00.000Z',
            retaken: true,
            expires_at: Math.floor(now.getTime() / 1000) + 86400,
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'operation_id' },
        },
      },
      {
        ConditionCheck: {
          TableName: 'state-table',
          Key: { operation_id: 'LAST#staging-db' },
          ConditionExpression: 'last_operation_id = :op AND last_execution_arn = :arn',
          ExpressionAttributeValues: { ':op': OPERATION_ID, ':arn': EXECUTION_ARN },
        },
      },
    ]);
  });

  test('free with no record of the last operation (expired): LockLost, never re-taken', async () => {
    holdLock(ddbMock, 'free');
    await expect(assertLockHeld(config, US)).rejects.toMatchObject({
      name: 'LockLost', message: expect.stringContaining('there is no record that this operation was the last to hold it'),
    });
    expect(ddbMock.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  test('retake: false (the failure settlement) only reports', async () => {
    holdLock(ddbMock, 'free', US);
    await expect(assertLockHeld(config, US, { retake: false })).rejects.toMatchObject({ name: 'LockLost' });
    expect(ddbMock.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  test('a newer operation takes the lock between the reads and the transaction: LockLost naming it', async () => {
    let reads = 0;
    ddbMock.on(GetCommand).callsFake((input: { Key: { operation_id: string } }) => {
      reads++;
      if (input.Key.operation_id === 'LAST#staging-db') return { Item: { last_operation_id: OPERATION_ID, last_execution_arn: EXECUTION_ARN } };
      return reads === 1 ? {} : { Item: { holder_operation_id: 'nightly-2', holder_execution_arn: NEWER.executionArn, acquired_at: '2026-11-23T08:00:01.000Z' } };
    });
    ddbMock.on(TransactWriteCommand).rejects(awsError('TransactionCanceledException'));
    await expect(assertLockHeld(config, US)).rejects.toMatchObject({ name: 'LockLost', message: expect.stringContaining('held by operation nightly-2') });
  });
});
