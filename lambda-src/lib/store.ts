import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from './clients';
import { loadConfig } from './config';
import { aws, errors, mapAwsError } from './errors';
import type { RunFigures } from './run-figures';
import { OperationStatus, TABLE_KEYS } from '../../src/contracts';

/** Outcome of one step invocation, as recorded in the audit table. */
export enum AuditOutcome {
  STARTED = 'STARTED',
  SUCCEEDED = 'SUCCEEDED',
  IN_PROGRESS = 'IN_PROGRESS',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
}

/** Key identifiers recorded with an audit entry. Never a secret. */
export type AuditDetails = Record<string, string | number | boolean | string[] | undefined>;

/** One audit entry as read back. */
export interface AuditEntry {
  readonly operationId: string;
  readonly time: string;
  readonly step: string;
  readonly outcome: string;
  readonly durationMs?: number;
  readonly details?: AuditDetails;
  readonly requestedBy?: string;
}

const PK = TABLE_KEYS.partitionKey;
const SK = TABLE_KEYS.auditSortKey;
const TTL = TABLE_KEYS.ttlAttribute;

function epochSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** The operation's state item, as snapshot-check first writes it. */
export interface OperationRecord {
  readonly operationId: string;
  readonly executionArn: string;
  readonly status: OperationStatus;
  readonly sourceClusterIdentifier: string;
  readonly targetClusterIdentifier: string;
  readonly snapshotIdentifier: string;
  readonly snapshotArn: string;
  readonly startedAt: string;
  readonly step: string;
  readonly requestedBy?: string;
}

/**
 * Writes the operation's state item. The item may only be overwritten by the same execution (a retried
 * step); an operation ID already used by another execution is `InvalidInput`, so two executions never
 * share one state item, snapshot copy name or audit trail.
 */
export async function putOperation(rec: OperationRecord, now: Date = new Date()): Promise<void> {
  const config = loadConfig();
  try {
    await ddb().send(new PutCommand({
      TableName: config.stateTableName,
      Item: {
        [PK]: rec.operationId,
        status: rec.status,
        execution_arn: rec.executionArn,
        source_cluster_identifier: rec.sourceClusterIdentifier,
        target_cluster_identifier: rec.targetClusterIdentifier,
        snapshot_identifier: rec.snapshotIdentifier,
        snapshot_arn: rec.snapshotArn,
        started_at: rec.startedAt,
        updated_at: now.toISOString(),
        step: rec.step,
        requested_by: rec.requestedBy,
        [TTL]: epochSeconds(now) + config.stateTtlSeconds,
      },
      ConditionExpression: `attribute_not_exists(${PK}) OR execution_arn = :arn`,
      ExpressionAttributeValues: { ':arn': rec.executionArn },
    }));
  } catch (err) {
    if (isConditionFailure(err)) {
      const existing = await getOperation(rec.operationId);
      throw errors.invalidInput(`operationId '${rec.operationId}' already belongs to execution ${String(existing?.execution_arn ?? 'unknown')} (status ${String(existing?.status ?? 'unknown')}). Start the restore with a new operationId, or leave operationId out to use the execution's name.`);
    }
    throw mapAwsError(err, `Writing the state item of operation ${rec.operationId} to table ${config.stateTableName}`);
  }
}

/** Reads an item of the state table (an operation or a lock). */
export async function getOperation(operationId: string): Promise<Record<string, unknown> | undefined> {
  const config = loadConfig();
  const out = await aws(`Reading item ${operationId} of table ${config.stateTableName}`, () => ddb().send(new GetCommand({
    TableName: config.stateTableName,
    Key: { [PK]: operationId },
    ConsistentRead: true,
  })));
  return out.Item;
}

/** Fields of the state item later steps update. */
export interface OperationUpdate {
  readonly status?: OperationStatus;
  readonly step?: string;
  readonly finishedAt?: string;
  readonly errorName?: string;
  readonly errorMessage?: string;
  readonly targetEndpoint?: string;
  readonly sourceClusterIdentifier?: string;
  readonly targetClusterIdentifier?: string;
  readonly requestedBy?: string;
  /** RTO/RPO of a successful run (lib/run-figures). */
  readonly runFigures?: RunFigures;
  /** Seconds the target was unavailable: a swap's cutover, or a DELETE_FIRST delete + restore. */
  readonly targetUnavailableSeconds?: number;
}

const UPDATE_ATTRIBUTES: Record<keyof OperationUpdate, string> = {
  status: 'status',
  step: 'step',
  finishedAt: 'finished_at',
  errorName: 'error_name',
  errorMessage: 'error_message',
  targetEndpoint: 'target_endpoint',
  sourceClusterIdentifier: 'source_cluster_identifier',
  targetClusterIdentifier: 'target_cluster_identifier',
  requestedBy: 'requested_by',
  runFigures: 'run_figures',
  targetUnavailableSeconds: 'target_unavailable_seconds',
};

/**
 * Updates the operation's state item, creating it if it does not exist yet (a failure before
 * snapshot-check wrote it). An item that belongs to another execution is left alone: returns false.
 */
export async function updateOperation(operationId: string, executionArn: string, update: OperationUpdate, now: Date = new Date()): Promise<boolean> {
  const config = loadConfig();
  const names: Record<string, string> = { '#updated': 'updated_at', '#ttl': TTL, '#arn': 'execution_arn', '#pk': PK };
  const values: Record<string, unknown> = { ':updated': now.toISOString(), ':ttl': epochSeconds(now) + config.stateTtlSeconds, ':arn': executionArn };
  const sets = ['#updated = :updated', '#ttl = :ttl', '#arn = if_not_exists(#arn, :arn)'];
  for (const [field, attribute] of Object.entries(UPDATE_ATTRIBUTES)) {
    const value = update[field as keyof OperationUpdate];
    if (value === undefined) continue;
    names[`#${field}`] = attribute;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  try {
    await ddb().send(new UpdateCommand({
      TableName: config.stateTableName,
      Key: { [PK]: operationId },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_not_exists(#pk) OR #arn = :arn',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw mapAwsError(err, `Updating the state item of operation ${operationId} in table ${config.stateTableName}`);
  }
}

/** Appends an entry to the operation's audit trail. `details` must never hold a secret. */
export async function appendAudit(
  operationId: string,
  step: string,
  outcome: AuditOutcome,
  details: AuditDetails = {},
  durationMs?: number,
  requestedBy?: string,
  now: Date = new Date(),
): Promise<void> {
  const config = loadConfig();
  const time = now.toISOString();
  await aws(`Writing an audit entry of operation ${operationId} to table ${config.auditTableName}`, () => ddb().send(new PutCommand({
    TableName: config.auditTableName,
    Item: {
      [PK]: operationId,
      [SK]: `${time}#${step}`,
      step,
      outcome,
      duration_ms: durationMs,
      details,
      requested_by: requestedBy,
      recorded_at: time,
    },
  })));
}

/** The operation's audit entries, oldest first, optionally only those at or after `since` (ISO 8601). */
export async function listAudit(operationId: string, since?: string): Promise<AuditEntry[]> {
  const config = loadConfig();
  const entries: AuditEntry[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await aws(`Reading the audit entries of operation ${operationId} from table ${config.auditTableName}`, () => ddb().send(new QueryCommand({
      TableName: config.auditTableName,
      KeyConditionExpression: since ? '#pk = :id AND #sk >= :since' : '#pk = :id',
      ExpressionAttributeNames: since ? { '#pk': PK, '#sk': SK } : { '#pk': PK },
      ExpressionAttributeValues: since ? { ':id': operationId, ':since': since } : { ':id': operationId },
      ExclusiveStartKey: startKey,
    })));
    for (const item of out.Items ?? []) {
      const timeStep = String(item[SK] ?? '');
      entries.push({
        operationId,
        time: timeStep.split('#')[0],
        step: String(item.step ?? timeStep.slice(timeStep.indexOf('#') + 1)),
        outcome: String(item.outcome ?? ''),
        durationMs: typeof item.duration_ms === 'number' ? item.duration_ms : undefined,
        details: item.details as AuditDetails | undefined,
        requestedBy: typeof item.requested_by === 'string' ? item.requested_by : undefined,
      });
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return entries;
}

/** The key of the lock item of a target cluster. */
export function lockKey(targetClusterIdentifier: string): string {
  return `${TABLE_KEYS.lockPrefix}${targetClusterIdentifier}`;
}

/** The key of the item that records the last operation that took the lock of a target cluster. */
export function lastOperationKey(targetClusterIdentifier: string): string {
  return `${TABLE_KEYS.lastOperationPrefix}${targetClusterIdentifier}`;
}

/** Who holds a lock. */
export interface LockHolder {
  readonly operationId: string;
  readonly executionArn: string;
  readonly acquiredAt: string;
  readonly expiresAt: number;
}

/**
 * Takes the lock on the target cluster for this operation and execution, or renews it if they already
 * hold it (a retried snapshot-check). A lock past its expiry is taken over. Held by anyone else:
 * `RestoreAlreadyInProgress`, naming the holder.
 */
export async function acquireLock(
  targetClusterIdentifier: string,
  operationId: string,
  executionArn: string,
  now: Date = new Date(),
): Promise<LockHolder> {
  const config = loadConfig();
  const key = lockKey(targetClusterIdentifier);
  const holder: LockHolder = {
    operationId,
    executionArn,
    acquiredAt: now.toISOString(),
    expiresAt: epochSeconds(now) + config.lockTtlSeconds,
  };
  try {
    await ddb().send(new PutCommand({
      TableName: config.stateTableName,
      Item: {
        [PK]: key,
        holder_operation_id: holder.operationId,
        holder_execution_arn: holder.executionArn,
        acquired_at: holder.acquiredAt,
        [TTL]: holder.expiresAt,
      },
      ConditionExpression: 'attribute_not_exists(#pk) OR (holder_operation_id = :op AND holder_execution_arn = :arn) OR #ttl < :now',
      ExpressionAttributeNames: { '#pk': PK, '#ttl': TTL },
      ExpressionAttributeValues: { ':op': operationId, ':arn': executionArn, ':now': epochSeconds(now) },
    }));
  } catch (err) {
    if (!isConditionFailure(err)) {
      throw mapAwsError(err, `Taking the lock ${key} in table ${config.stateTableName}`);
    }
    return lockHeldElsewhere(targetClusterIdentifier, key);
  }
  // Written after the lock is ours, so it always names the newest operation that held it (see lib/lock.ts).
  const last = lastOperationKey(targetClusterIdentifier);
  await aws(`Recording the last operation ${last} in table ${config.stateTableName}`, () => ddb().send(new PutCommand({
    TableName: config.stateTableName,
    Item: {
      [PK]: last,
      last_operation_id: operationId,
      last_execution_arn: executionArn,
      acquired_at: holder.acquiredAt,
      [TTL]: epochSeconds(now) + config.stateTtlSeconds,
    },
  })));
  return holder;
}

async function lockHeldElsewhere(targetClusterIdentifier: string, key: string): Promise<never> {
  const current = await getOperation(key);
  const heldBy = String(current?.holder_operation_id ?? 'unknown');
  const heldExec = String(current?.holder_execution_arn ?? 'unknown');
  const expires = typeof current?.[TTL] === 'number' ? new Date((current[TTL] as number) * 1000).toISOString() : 'unknown';
  throw errors.alreadyInProgress(
    `Target cluster ${targetClusterIdentifier} is locked by operation ${heldBy} (execution ${heldExec}) until ${expires}. `
    + 'Wait for that restore to finish, or stop its execution: the pipeline releases the lock of a stopped or timed-out execution '
    + 'as soon as its status change reaches the notification function (see the ExecutionAborted notification); failing that, the lock '
    + 'expires on its own at the time shown.',
  );
}

/**
 * Releases the lock on the target cluster if this operation and execution hold it. Returns whether it
 * did; a lock held by someone else (or none) is left alone.
 */
export async function releaseLock(targetClusterIdentifier: string, operationId: string, executionArn: string): Promise<boolean> {
  const config = loadConfig();
  const key = lockKey(targetClusterIdentifier);
  try {
    await ddb().send(new DeleteCommand({
      TableName: config.stateTableName,
      Key: { [PK]: key },
      ConditionExpression: 'holder_operation_id = :op AND holder_execution_arn = :arn',
      ExpressionAttributeValues: { ':op': operationId, ':arn': executionArn },
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw mapAwsError(err, `Releasing the lock ${key} in table ${config.stateTableName}`);
  }
}
