/*
 * How long each wait phase (WAIT_PHASES) of a target's last successful runs took, in the state table's
 * `HISTORY#<target>` item: the wait loops check shortly before the median of the last five instead of backing off blind.
 *
 * Best effort both ways: a history that cannot be read or written costs the next run some detection lag, never the run.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ddb } from './clients';
import { loadConfig } from './config';
import type { Logger } from './step';
import type { PhaseExpectation } from './waits';
import { TABLE_KEYS, WAIT_POLICY } from '../../src/contracts';

/** One recorded phase. */
export interface PhaseRecord {
  /** The operation it belongs to: a phase is recorded once per operation, however often the step is retried. */
  readonly operationId: string;
  /** Seconds the phase took. */
  readonly seconds: number;
  /** When it was recorded (ISO 8601). */
  readonly at: string;
}

type History = Record<string, PhaseRecord[]>;

/** The key of a target's history item. */
export function historyKey(targetClusterIdentifier: string): string {
  return `${TABLE_KEYS.historyPrefix}${targetClusterIdentifier}`;
}

/**
 * The expectation from the last {@link WAIT_POLICY.historyMedianOf} records: their median, shortest and longest;
 * undefined with none.
 */
export function expectationOf(records: readonly PhaseRecord[]): PhaseExpectation | undefined {
  const latest = records.slice(-WAIT_POLICY.historyMedianOf).map((r) => r.seconds).sort((a, b) => a - b);
  if (latest.length === 0) return undefined;
  const mid = Math.floor(latest.length / 2);
  const seconds = latest.length % 2 === 1 ? latest[mid] : Math.round((latest[mid - 1] + latest[mid]) / 2);
  return { seconds, earliest: latest[0], latest: latest[latest.length - 1] };
}

async function readHistory(target: string): Promise<{ phases: History; version: number } | undefined> {
  const config = loadConfig();
  const key = { [TABLE_KEYS.partitionKey]: historyKey(target) };
  const out = await ddb().send(new GetCommand({ TableName: config.stateTableName, Key: key, ConsistentRead: true }));
  const item = out?.Item;
  if (!item) return undefined;
  return { phases: (item.phases ?? {}) as History, version: Number(item.version ?? 0) };
}

/** How long `phase` is expected to take for the pipeline's target; undefined without history (or when it cannot be read). */
export async function expectedPhase(phase: string, log?: Logger): Promise<PhaseExpectation | undefined> {
  try {
    const history = await readHistory(loadConfig().targetClusterIdentifier);
    return expectationOf(history?.phases[phase] ?? []);
  } catch (err) {
    log?.warn('could not read the phase history: the wait backs off instead', { phase, errorName: (err as Error)?.name, errorMessage: (err as Error)?.message });
    return undefined;
  }
}

/**
 * Records that `phase` of `operationId` took `seconds`. Idempotent: a retried step finds its record and writes
 * nothing. Keeps the last {@link WAIT_POLICY.historyKept} records per phase. Returns whether it wrote.
 */
export async function recordPhase(phase: string, operationId: string, seconds: number, log?: Logger, now: Date = new Date()): Promise<boolean> {
  const config = loadConfig();
  const target = config.targetClusterIdentifier;
  try {
    // Two tries: only the lock holder records, so a lost race is a retry of the same step.
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = await readHistory(target);
      const records = current?.phases[phase] ?? [];
      if (records.some((r) => r.operationId === operationId)) return false;
      const kept = [...records, { operationId, seconds, at: now.toISOString() }].slice(-WAIT_POLICY.historyKept);
      const phases: History = { ...current?.phases, [phase]: kept };
      try {
        await ddb().send(new PutCommand({
          TableName: config.stateTableName,
          Item: {
            [TABLE_KEYS.partitionKey]: historyKey(target),
            phases,
            version: (current?.version ?? 0) + 1,
            updated_at: now.toISOString(),
            [TABLE_KEYS.ttlAttribute]: Math.floor(now.getTime() / 1000) + config.stateTtlSeconds,
          },
          ConditionExpression: current ? 'version = :v' : `attribute_not_exists(${TABLE_KEYS.partitionKey})`,
          ...(current ? { ExpressionAttributeValues: { ':v': current.version } } : {}),
        }));
        return true;
      } catch (err) {
        if ((err as { name?: string })?.name !== 'ConditionalCheckFailedException') throw err;
      }
    }
    return false;
  } catch (err) {
    log?.warn('could not record the phase history: the next run backs off instead', { phase, errorName: (err as Error)?.name, errorMessage: (err as Error)?.message });
    return false;
  }
}
