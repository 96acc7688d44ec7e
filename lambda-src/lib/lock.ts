/*
 * The lock-holder check every step that changes something runs first: only the execution that holds the lock of
 * the target, for its operation, may act. Step Functions can redrive a failed, stopped or timed-out execution for
 * 14 days; it resumes mid-flow, after its lock was released and maybe after a newer operation replaced the target.
 *
 * Redrive rule: a redriven execution finds the lock free. It re-takes it only when the target's last-operation
 * record (`LAST#<target>`, written whenever a lock is taken) still names this operation and execution, i.e. no
 * other operation has taken the lock since; the re-take and that check are one DynamoDB transaction. Otherwise,
 * and whenever another execution holds the lock, the step fails with LockLost before any change.
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from './clients';
import { errors, mapAwsError } from './errors';
import { getOperation, lastOperationKey, lockKey } from './store';
import { PipelineConfig, TABLE_KEYS } from '../../src/contracts';

/** How {@link assertLockHeld} found the lock. */
export enum LockCheck {
  /** Held by this operation and execution. */
  HELD = 'HELD',
  /** It was free and nothing newer had run on the target: this (redriven) execution took it again. */
  RETAKEN = 'RETAKEN',
}

/** Who an operation is: the lock is held by an operation AND an execution. */
export interface LockClaim {
  readonly operationId: string;
  readonly executionArn: string;
}

const PK = TABLE_KEYS.partitionKey;
const TTL = TABLE_KEYS.ttlAttribute;

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Verifies with consistent reads that `claim` holds the lock of the target, re-taking it after a redrive when
 * allowed (see the file comment). Throws LockLost, naming who holds the lock or what ran since, otherwise.
 * `retake: false` (the failure settlement) never takes the lock, it only reports.
 */
export async function assertLockHeld(config: PipelineConfig, claim: LockClaim, options: { retake?: boolean; now?: Date } = {}): Promise<LockCheck> {
  const target = config.targetClusterIdentifier;
  const key = lockKey(target);
  const lock = await getOperation(key);
  if (lock) {
    if (lock.holder_operation_id === claim.operationId && lock.holder_execution_arn === claim.executionArn) return LockCheck.HELD;
    throw lockLost(target, claim, `it is held by operation ${str(lock.holder_operation_id) ?? 'unknown'} (execution ${str(lock.holder_execution_arn) ?? 'unknown'}) since ${str(lock.acquired_at) ?? 'an unknown time'}`);
  }
  const lastKey = lastOperationKey(target);
  const last = await getOperation(lastKey);
  const ours = last?.last_operation_id === claim.operationId && last?.last_execution_arn === claim.executionArn;
  if (!ours) {
    const since = last
      ? `it is free, and operation ${str(last.last_operation_id) ?? 'unknown'} (execution ${str(last.last_execution_arn) ?? 'unknown'}) took it since, at ${str(last.acquired_at) ?? 'an unknown time'}`
      : 'it is free, and there is no record that this operation was the last to hold it';
    throw lockLost(target, claim, since);
  }
  if (options.retake === false) {
    throw lockLost(target, claim, 'it is free (this operation released it, or its stopped execution was settled)');
  }
  const now = options.now ?? new Date();
  const epoch = Math.floor(now.getTime() / 1000);
  try {
    await ddb().send(new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: config.stateTableName,
            Item: {
              [PK]: key,
              holder_operation_id: claim.operationId,
              holder_execution_arn: claim.executionArn,
              acquired_at: now.toISOString(),
              retaken: true,
              [TTL]: epoch + config.lockTtlSeconds,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': PK },
          },
        },
        {
          ConditionCheck: {
            TableName: config.stateTableName,
            Key: { [PK]: lastKey },
            ConditionExpression: 'last_operation_id = :op AND last_execution_arn = :arn',
            ExpressionAttributeValues: { ':op': claim.operationId, ':arn': claim.executionArn },
          },
        },
      ],
    }));
  } catch (err) {
    if ((err as { name?: string })?.name === 'TransactionCanceledException') {
      // Someone took the lock between the reads and the transaction: report who.
      return assertLockHeld(config, claim, { retake: false, now });
    }
    throw mapAwsError(err, `Re-taking the lock ${key} in table ${config.stateTableName}`);
  }
  return LockCheck.RETAKEN;
}

/** Like {@link assertLockHeld} without re-taking: whether `claim` holds the lock now, and if not, why. */
export async function lockHeldBy(config: PipelineConfig, claim: LockClaim): Promise<{ held: boolean; reason?: string }> {
  try {
    await assertLockHeld(config, claim, { retake: false });
    return { held: true };
  } catch (err) {
    if ((err as { name?: string })?.name === 'LockLost') return { held: false, reason: (err as Error).message };
    throw err;
  }
}

function lockLost(target: string, claim: LockClaim, why: string) {
  return errors.lockLost(`This execution (${claim.executionArn}) of operation ${claim.operationId} no longer holds the lock of target cluster ${target}: `
    + `${why}. Nothing was changed by this step. A redriven execution continues only while no other operation has run on the target `
    + 'since it lost the lock; start a new restore instead.');
}
