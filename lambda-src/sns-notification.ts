/*
 * SnsNotification (NotifySuccess and NotifyFailure): records the outcome in the state item, releases the
 * lock on the target if this operation holds it, and publishes the notification.
 *
 * On the failure path the state may be only the execution input plus `error` (SnapshotCheck failed): the
 * operation ID is then derived like SnapshotCheck derives it. Bookkeeping problems on the failure path
 * (audit, state item, lock) are logged and never stop the notification. On the success path they fail
 * the step before anything is published, so the state machine's retry (or the failure path) handles them.
 *
 * Called twice: the state item is written again with the same values, the lock is already released (the
 * conditional delete finds nothing of ours and changes nothing), and a second message is published: a
 * notification is at-least-once.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { CaughtError, NotificationEvent, OperationStatus, STEP_NAMES } from '../src/contracts';
import { sns } from './lib/clients';
import { loadConfig } from './lib/config';
import { aws } from './lib/errors';
import { deriveOperationId, executionConsoleLink, OPERATION_ID_PATTERN } from './lib/naming';
import { Logger, runStep } from './lib/step';
import { AuditEntry, listAudit, releaseLock, updateOperation } from './lib/store';

const MAX_SUBJECT = 100;
const MAX_CAUSE = 4000;

/** What the notification step returns (the state machine discards it; it helps when testing). */
export interface NotificationResult {
  readonly status: string;
  readonly operationId: string;
  readonly messageId?: string;
  readonly lockReleased: boolean;
}

export const handler = async (event: NotificationEvent): Promise<NotificationResult> => {
  const config = loadConfig();
  const succeeded = event?.status === OperationStatus.SUCCEEDED;
  const status = succeeded ? OperationStatus.SUCCEEDED : OperationStatus.FAILED;
  const state = (event?.state && typeof event.state === 'object' ? event.state : {}) as Record<string, any>;
  const operationId = typeof state.operationId === 'string' && OPERATION_ID_PATTERN.test(state.operationId)
    ? state.operationId
    : deriveOperationId(event?.input, event?.executionName);
  const executionArn = String(event?.executionArn ?? state.executionArn ?? '');
  const requestedBy = typeof event?.input?.requestedBy === 'string' ? event.input.requestedBy : undefined;
  const error = succeeded ? undefined : describeError(state.error);

  return runStep({ step: STEP_NAMES.snsNotification, operationId, requestedBy, bestEffortAudit: !succeeded }, async ({ log }) => {
    // On the failure path nothing here may stop the notification; on the success path it may.
    const bookkeeping = async <T>(what: string, call: () => Promise<T>, always = false): Promise<T | undefined> => {
      try {
        return await call();
      } catch (err) {
        if (succeeded && !always) throw err;
        log.warn(`bookkeeping failed: ${what}; notifying anyway`, { errorName: (err as Error)?.name, errorMessage: (err as Error)?.message });
        return undefined;
      }
    };
    const finishedAt = new Date();

    const started = Date.parse(event.executionStartTime);
    const since = Number.isNaN(started) ? undefined : new Date(started).toISOString();
    const audit = await bookkeeping('reading the audit trail', () => listAudit(operationId, since), true);
    const lockReleased = (await bookkeeping('releasing the lock', () => releaseLock(config.targetClusterIdentifier, operationId, executionArn))) ?? false;
    const recorded = await bookkeeping('writing the final state', () => updateOperation(operationId, executionArn, {
      status,
      // On failure the state item keeps the step that failed (recorded by that step); SnapshotCheck records none.
      step: succeeded ? STEP_NAMES.snsNotification : (state.snapshot ? undefined : STEP_NAMES.snapshotCheck),
      finishedAt: finishedAt.toISOString(),
      errorName: error?.name,
      errorMessage: error?.cause,
      targetEndpoint: state.restore?.endpoint,
      sourceClusterIdentifier: config.sourceClusterIdentifier,
      targetClusterIdentifier: config.targetClusterIdentifier,
      requestedBy,
    }));
    if (recorded === false) {
      log.warn('the state item belongs to another execution; left unchanged', { executionArn });
    }

    const body = {
      status,
      operationId,
      executionArn,
      executionName: event.executionName,
      consoleLink: executionConsoleLink(executionArn, config.targetRegion),
      requestedBy,
      sourceCluster: { identifier: config.sourceClusterIdentifier, region: config.sourceRegion },
      targetCluster: { identifier: config.targetClusterIdentifier, region: config.targetRegion },
      snapshot: state.snapshot
        ? { identifier: state.snapshot.identifier, arn: state.snapshot.arn, createdAt: state.snapshot.createdAt }
        : (typeof event.input?.snapshotIdentifier === 'string' ? { requested: event.input.snapshotIdentifier } : undefined),
      target: state.restore?.endpoint
        ? {
          endpoint: state.restore.endpoint,
          readerEndpoint: state.restore.readerEndpoint,
          port: state.restore.port,
          engineVersion: state.restore.engineVersion,
        }
        : undefined,
      dbUsers: state.dbUsers,
      archive: state.archive,
      startedAt: event.executionStartTime,
      finishedAt: finishedAt.toISOString(),
      stepDurationsMs: audit ? stepDurations(audit) : undefined,
      error,
    };
    const subject = subjectLine(`Aurora restore ${status}: ${config.targetClusterIdentifier} (${operationId})`);
    const out = await aws(`Publishing the ${status} notification to ${config.topicArn}`, () => sns().send(new PublishCommand({
      TopicArn: config.topicArn,
      Subject: subject,
      Message: JSON.stringify(body, null, 2),
      MessageAttributes: {
        status: { DataType: 'String', StringValue: status },
        operationId: { DataType: 'String', StringValue: operationId },
      },
    })));
    logOutcome(log, status, error);
    return {
      result: { status, operationId, messageId: out.MessageId, lockReleased },
      details: { status, messageId: out.MessageId, lockReleased, errorName: error?.name, executionArn },
    };
  });
};

/** The caught error's name and cause; for a Lambda error, the cause is its errorMessage. */
export function describeError(caught: CaughtError | undefined): { name: string; cause: string } {
  if (!caught || typeof caught !== 'object') return { name: 'Unknown', cause: 'The execution failed without a recorded error. Open the execution in the console to see which state failed.' };
  const name = typeof caught.Error === 'string' && caught.Error ? caught.Error : 'Unknown';
  let cause = typeof caught.Cause === 'string' ? caught.Cause : '';
  try {
    const parsed = JSON.parse(cause);
    if (parsed && typeof parsed === 'object' && typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    // Not JSON: a Step Functions cause, kept as it is.
  }
  return { name, cause: cause.length > MAX_CAUSE ? `${cause.slice(0, MAX_CAUSE)}…` : cause };
}

/** Sum of the recorded durations per step, in the order the steps first ran. */
export function stepDurations(entries: AuditEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) {
    if (e.step === STEP_NAMES.snsNotification || typeof e.durationMs !== 'number') continue;
    out[e.step] = (out[e.step] ?? 0) + e.durationMs;
  }
  return out;
}

/** An SNS subject: printable ASCII, one line, at most 100 characters. */
export function subjectLine(text: string): string {
  const clean = text.replace(/[^\x20-\x7E]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > MAX_SUBJECT ? `${clean.slice(0, MAX_SUBJECT - 3)}...` : clean;
}

function logOutcome(log: Logger, status: string, error: { name: string; cause: string } | undefined): void {
  if (error) log.info('failure notification published', { status, errorName: error.name });
  else log.info('success notification published', { status });
}
