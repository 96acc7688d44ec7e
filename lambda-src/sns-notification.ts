/*
 * SnsNotification (NotifySuccess and NotifyFailure): records the outcome in the state item, releases the
 * lock on the target if this operation holds it, and publishes the notification.
 *
 * On the failure path the state may be only the execution input plus `error` (SnapshotCheck failed): the
 * operation ID is then derived like SnapshotCheck derives it. Bookkeeping problems on the failure path
 * (audit, state item, lock) are logged and never stop the notification. On the success path they fail
 * the step before anything is published, so the state machine's retry (or the failure path) handles them.
 *
 * On the failure path, before anything else, the snapshot copy this operation made (if the state says one
 * was required or made) is settled like ArchiveSnapshot settles it (lib/snapshot-copy): deleted, or kept and
 * tagged when retainSnapshotCopy is set; only the snapshot with this operation's copy name and tags. A
 * problem doing so is logged, audited and reported in the message (`snapshotCopy`) with what to do; it
 * never stops the notification. The success path never touches the copy (ArchiveSnapshot did).
 *
 * Called twice: the state item is written again with the same values, the lock is already released (the
 * conditional delete finds nothing of ours and changes nothing), the copy is already gone or being deleted
 * (reported 'none' or 'deleted', no second delete) or re-tagged as retained, and a second message is
 * published: a notification is at-least-once.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { CaughtError, NotificationEvent, OperationStatus, PipelineConfig, PipelineTag, STEP_NAMES } from '../src/contracts';
import { rds, sns } from './lib/clients';
import { loadConfig } from './lib/config';
import { aws, mapAwsError } from './lib/errors';
import { copySnapshotIdentifier, deriveOperationId, executionConsoleLink, OPERATION_ID_PATTERN } from './lib/naming';
import { awsCause, settleSnapshotCopy } from './lib/snapshot-copy';
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
  /**
   * What the failure path did with this operation's snapshot copy.
   * @default - nothing to do: the success path, or no copy was required
   */
  readonly snapshotCopy?: SnapshotCopyReport;
}

/** What the failure path did with this operation's snapshot copy (the message's `snapshotCopy`). */
export interface SnapshotCopyReport {
  /** The copy's identifier in the target region. */
  readonly identifier: string;
  readonly region: string;
  /**
   * `deleted` (now, or RDS was already deleting it), `retained` (kept and tagged, retainSnapshotCopy),
   * `none` (no such snapshot: never made, or already gone), `untouched` (a snapshot that is not this
   * operation's copy: left alone) or `failed` (RDS refused or the call failed: see `advice`).
   */
  readonly action: 'deleted' | 'retained' | 'none' | 'untouched' | 'failed';
  /** The status RDS reported for the copy before anything was done, e.g. `copying`. */
  readonly status?: string;
  /** What happened, in a sentence. */
  readonly detail: string;
  /** What to do, when something is left to do. */
  readonly advice?: string;
  /** For `failed`: the error's name. */
  readonly errorName?: string;
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
    // First the copy (before the lock is released and before anything is published, which reports it).
    const snapshotCopy = succeeded ? undefined : await settleCopyAfterFailure(config, state, operationId, String(event?.executionArn ?? ''), log);
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
      snapshotCopy,
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
      result: { status, operationId, messageId: out.MessageId, lockReleased, ...(snapshotCopy ? { snapshotCopy } : {}) },
      details: {
        status,
        messageId: out.MessageId,
        lockReleased,
        errorName: error?.name,
        executionArn,
        snapshotCopyIdentifier: snapshotCopy?.identifier,
        snapshotCopyAction: snapshotCopy?.action,
        snapshotCopyError: snapshotCopy?.errorName,
      },
    };
  });
};

/**
 * On the failure path: deletes (or retains and tags) the snapshot copy this operation made, best effort.
 * Nothing to do when the state is not this execution's operation state (SnapshotCheck failed: the state is
 * the raw input) or says no copy was required or made. Never throws: a problem becomes action `failed`.
 */
async function settleCopyAfterFailure(
  config: PipelineConfig, state: Record<string, any>, operationId: string, executionArn: string, log: Logger,
): Promise<SnapshotCopyReport | undefined> {
  const isOperationState = executionArn !== '' && state.executionArn === executionArn && state.operationId === operationId
    && typeof state.snapshot?.identifier === 'string';
  const claimed = typeof state.copy?.snapshotIdentifier === 'string' ? state.copy.snapshotIdentifier as string : undefined;
  if (!isOperationState || (state.copyRequired !== true && claimed === undefined)) return undefined;

  const region = config.targetRegion;
  const retain = config.retainSnapshotCopy;
  let identifier = claimed ?? '';
  try {
    identifier = claimed ?? copySnapshotIdentifier(config.targetClusterIdentifier, operationId);
    const settled = await settleSnapshotCopy({
      client: rds(region), region, config, operationId, retain, claimedIdentifier: identifier, sourceSnapshotIdentifier: state.snapshot.identifier,
    });
    const base = { identifier: settled.snapshotIdentifier, region, status: settled.status };
    let report: SnapshotCopyReport;
    switch (settled.action) {
      case 'deleted':
        report = {
          ...base,
          action: 'deleted',
          detail: settled.alreadyDeleting
            ? `RDS was already deleting snapshot copy ${identifier} in ${region}.`
            : `Deleted snapshot copy ${identifier} in ${region}${settled.status && settled.status !== 'available' ? ` (it was '${settled.status}': RDS cancels the copy)` : ''}.`,
        };
        break;
      case 'retained':
        report = {
          ...base,
          action: 'retained',
          detail: `Kept snapshot copy ${identifier} in ${region} (retainSnapshotCopy) and tagged it ${PipelineTag.RETAINED}=true.`,
          advice: `It counts against the snapshot quota: delete it by hand when you no longer need it${settled.status && settled.status !== 'available' ? ' (it is still being copied)' : ''}.`,
        };
        break;
      case 'absent':
        report = {
          ...base,
          action: 'none',
          detail: settled.status === 'deleting'
            ? `Snapshot copy ${identifier} in ${region} was to be kept, but RDS is already deleting it.`
            : `No snapshot copy named ${identifier} exists in ${region}: it was never made, or is already deleted.`,
        };
        break;
      case 'untouched':
        report = {
          ...base,
          action: 'untouched',
          detail: settled.reason ?? `Snapshot ${identifier} in ${region} was left untouched.`,
          advice: `Nothing was deleted. Check snapshot ${identifier} in the RDS console of ${region}; if it is a leftover of this operation, delete it by hand.`,
        };
        break;
    }
    log.info('snapshot copy settled after the failure', { snapshotIdentifier: report.identifier, action: report.action, status: report.status });
    return report;
  } catch (err) {
    // RDS's own answer when there is one (e.g. InvalidDBClusterSnapshotStateFault), else the pipeline's name for it.
    const mapped = mapAwsError(err, `${retain ? 'Retaining' : 'Deleting'} snapshot copy ${identifier} in ${region}`);
    const answer = awsCause(mapped) ?? { name: mapped.name, message: mapped.message };
    const report: SnapshotCopyReport = {
      identifier,
      region,
      action: 'failed',
      errorName: answer.name,
      detail: `Could not ${retain ? 'tag' : 'delete'} snapshot copy ${identifier} in ${region}: ${answer.name}: ${truncate(answer.message, 1000)}`,
      advice: retain
        ? `Tag snapshot ${identifier} in ${region} with ${PipelineTag.RETAINED}=true by hand, or delete it if you do not need it.`
        : `Delete snapshot ${identifier} in ${region} by hand (RDS console, or aws rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier ${identifier} --region ${region}), once it is no longer being copied, so that it does not count against the snapshot quota.`,
    };
    log.warn('could not settle the snapshot copy after the failure; notifying anyway', {
      snapshotIdentifier: identifier, errorName: answer.name, errorMessage: answer.message, advice: report.advice,
    });
    return report;
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

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
