/*
 * SnsNotification (NotifySuccess and NotifyFailure, and stopped executions): records the outcome in the state item, releases the
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
 * never stops the notification. The success path never touches the copy (ArchiveSnapshot did). A swap that failed
 * before its cutover has its temporary cluster settled the same way (lib/temporary-cluster: deleted, or kept and
 * tagged with retainFailedRestore), reported as `temporaryCluster`; the target was never touched.
 * Across accounts the copy is the shareable copy in the source account: it is released (unshared, deleted) as the source
 * account's role (lib/share-copy), and when even that fails the message names what is left there and the commands that
 * remove it.
 *
 * Called twice: the state item is written again with the same values, the lock is already released (the
 * conditional delete finds nothing of ours and changes nothing), the copy is already gone or being deleted
 * (reported 'none' or 'deleted', no second delete) or re-tagged as retained, and a second message is
 * published: a notification is at-least-once.
 *
 * It also receives, from the pipeline's EventBridge rule, the status changes of executions that never reach
 * NotifyFailure: stopped by hand (ABORTED) or past the state machine's timeout (TIMED_OUT). See
 * {@link settleStoppedExecution}: it acts only for the execution that holds the lock on the target.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import {
  CaughtError,
  DRY_RUN_STATUS,
  DryRunState,
  EXECUTION_STATUS_CHANGE,
  ExecutionStatusChangeEvent,
  NotificationEvent,
  OperationStatus,
  PipelineConfig,
  PipelineErrorName,
  PipelineTag,
  STEP_NAMES,
} from '../src/contracts';
import { rds, sfn, sns } from './lib/clients';
import { loadConfig } from './lib/config';
import { aws, errors, isThrottling, mapAwsError } from './lib/errors';
import { lockHeldBy } from './lib/lock';
import {
  clusterConsoleLink, copySnapshotIdentifier, deriveOperationId, executionConsoleLink, OPERATION_ID_PATTERN, shareSnapshotIdentifier,
  temporaryClusterIdentifier,
} from './lib/naming';
import { computeRunFigures, embeddedMetricLine, RunFigures } from './lib/run-figures';
import { manualReleaseCommands, releaseShareCopy } from './lib/share-copy';
import { awsCause, settleSnapshotCopy } from './lib/snapshot-copy';
import { SourceAccount, sourceAccountOf, sourceRds } from './lib/source-account';
import { Logger, runStep } from './lib/step';
import { AuditEntry, AuditOutcome, getOperation, listAudit, lockKey, releaseLock, updateOperation } from './lib/store';
import { settleTemporaryCluster, TemporaryClusterSettlement } from './lib/temporary-cluster';

const MAX_SUBJECT = 100;
const MAX_CAUSE = 4000;
/** Longest text of the execution input repeated in a notification, the state item or the audit trail. */
const MAX_ECHO = 256;

/** What the notification step returns (the state machine discards it; it helps when testing). */
export interface NotificationResult {
  readonly status: string;
  readonly operationId: string;
  readonly messageId?: string;
  readonly lockReleased: boolean;
  /**
   * RTO/RPO of the run (lib/run-figures).
   * @default - none: a failed run, or an audit trail without what they need
   */
  readonly figures?: RunFigures;
  /**
   * What the failure path did with this operation's snapshot copy.
   * @default - nothing to do: the success path, or no copy was required
   */
  readonly snapshotCopy?: SnapshotCopyReport;
  /**
   * What the failure path did with a swap's temporary cluster.
   * @default - nothing to do: the success path, or no swap
   */
  readonly temporaryCluster?: TemporaryClusterSettlement;
  /**
   * For a stopped or timed-out execution that was not settled: why nothing was changed.
   * @default - settled (or not such an execution)
   */
  readonly skipped?: string;
}

/** What the failure path did with this operation's snapshot copy (the message's `snapshotCopy`). */
export interface SnapshotCopyReport {
  /** The copy's identifier in the target region. */
  readonly identifier: string;
  readonly region: string;
  /**
   * Across accounts: the source account the shareable copy is in.
   * @default - the pipeline's account
   */
  readonly account?: string;
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

export const handler = async (event: NotificationEvent | ExecutionStatusChangeEvent): Promise<NotificationResult> => {
  if (isFromEventBridge(event)) return settleStoppedExecution(parseStatusChange(event));
  if ((event as NotificationEvent)?.status === DRY_RUN_STATUS) return notifyDryRun(event as NotificationEvent);
  return notifyOutcome(event as NotificationEvent);
};

/** NotifySuccess and NotifyFailure: the state machine's own outcome. */
async function notifyOutcome(event: NotificationEvent): Promise<NotificationResult> {
  const config = loadConfig();
  const succeeded = event?.status === OperationStatus.SUCCEEDED;
  const status = succeeded ? OperationStatus.SUCCEEDED : OperationStatus.FAILED;
  const state = (event?.state && typeof event.state === 'object' ? event.state : {}) as Record<string, any>;
  const operationId = typeof state.operationId === 'string' && OPERATION_ID_PATTERN.test(state.operationId)
    ? state.operationId
    : deriveOperationId(event?.input, event?.executionName);
  const executionArn = String(event?.executionArn ?? state.executionArn ?? '');
  // The input of a failed execution was not validated: cap what of it is repeated (SNS takes 256 KB).
  const requestedBy = typeof event?.input?.requestedBy === 'string' ? truncate(event.input.requestedBy, MAX_ECHO) : undefined;
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
    const temporaryCluster = succeeded || state.swap !== true ? undefined : await settleTemporary(config, operationId, String(event?.executionArn ?? ''), log, false);
    const targetUnavailableSeconds = unavailableSeconds(state);
    const finishedAt = new Date();

    const started = Date.parse(event.executionStartTime);
    const since = Number.isNaN(started) ? undefined : new Date(started).toISOString();
    const audit = await bookkeeping('reading the audit trail', () => listAudit(operationId, since), true);
    // RTO/RPO of a successful run; a trail that lacks what they need is logged, never fatal.
    let figures: RunFigures | undefined;
    if (succeeded && audit) {
      const computed = computeRunFigures(audit, state, event.executionStartTime);
      figures = computed.figures;
      if (!figures) log.warn('no run figures: ' + computed.missing);
    }
    const lockReleased = (await bookkeeping('releasing the lock', () => releaseLock(config.targetClusterIdentifier, operationId, executionArn))) ?? false;
    const recorded = await bookkeeping('writing the final state', () => updateOperation(operationId, executionArn, {
      status,
      // On failure the state item keeps the step that failed (recorded by that step); SnapshotCheck records none.
      step: succeeded ? STEP_NAMES.snsNotification : (state.snapshot ? undefined : STEP_NAMES.snapshotCheck),
      finishedAt: finishedAt.toISOString(),
      errorName: error?.name,
      errorMessage: error?.cause,
      targetEndpoint: state.cutover?.endpoint ?? (state.swap ? undefined : state.restore?.endpoint),
      sourceClusterIdentifier: config.sourceClusterIdentifier,
      targetClusterIdentifier: config.targetClusterIdentifier,
      requestedBy,
      runFigures: figures,
      targetUnavailableSeconds,
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
      sourceCluster: sourceClusterOf(config),
      targetCluster: { identifier: config.targetClusterIdentifier, region: config.targetRegion },
      snapshot: state.snapshot
        ? { identifier: state.snapshot.identifier, arn: state.snapshot.arn, createdAt: state.snapshot.createdAt }
        : (typeof event.input?.snapshotIdentifier === 'string' ? { requested: truncate(event.input.snapshotIdentifier, MAX_ECHO) } : undefined),
      target: state.restore?.endpoint
        ? {
          endpoint: state.restore.endpoint,
          readerEndpoint: state.restore.readerEndpoint,
          port: state.restore.port,
          engineVersion: state.restore.engineVersion,
        }
        : undefined,
      dbUsers: state.dbUsers,
      validation: state.validation,
      archive: state.archive,
      replaceStrategy: state.replaceTarget === true ? (state.swap === true ? 'SWAP' : 'DELETE_FIRST') : undefined,
      targetUnavailableSeconds,
      previousTarget: previousTargetReport(state),
      temporaryCluster,
      snapshotCopy,
      startedAt: event.executionStartTime,
      finishedAt: finishedAt.toISOString(),
      stepDurationsMs: audit ? stepDurations(audit) : undefined,
      figures,
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
    // After the publish: a retry of a failed publish would otherwise count the run twice.
    if (figures) console.log(embeddedMetricLine(figures, config.targetClusterIdentifier, operationId));
    return {
      result: {
        status,
        operationId,
        messageId: out.MessageId,
        lockReleased,
        ...(snapshotCopy ? { snapshotCopy } : {}),
        ...(temporaryCluster ? { temporaryCluster } : {}),
        ...(figures ? { figures } : {}),
      },
      details: {
        status,
        messageId: out.MessageId,
        lockReleased,
        errorName: error?.name,
        executionArn,
        snapshotCopyIdentifier: snapshotCopy?.identifier,
        snapshotCopyAction: snapshotCopy?.action,
        snapshotCopyError: snapshotCopy?.errorName,
        temporaryClusterAction: temporaryCluster?.action,
        targetUnavailableSeconds,
      },
    };
  });
}

/** Seconds the target was unavailable: a swap's cutover, or a DELETE_FIRST run's delete and restore. */
function unavailableSeconds(state: Record<string, any>): number | undefined {
  const value = state.cutover?.targetUnavailableSeconds ?? state.restore?.targetUnavailableSeconds;
  return typeof value === 'number' ? value : undefined;
}

/** Where the previous target of a swap went. */
function previousTargetReport(state: Record<string, any>): Record<string, unknown> | undefined {
  if (state.cutover?.done !== true) return undefined;
  const retired = state.retire?.done === true;
  return {
    identifier: state.cutover.previousClusterIdentifier,
    action: retired ? 'deleted' : 'kept',
    ...(retired && state.retire.finalSnapshotIdentifier ? { finalSnapshotIdentifier: state.retire.finalSnapshotIdentifier } : {}),
  };
}

/**
 * Settles the swap's temporary cluster (lib/temporary-cluster) when this execution holds the lock; never throws
 * (throttling aside, with `rethrowThrottling`): a problem becomes action `failed`.
 */
async function settleTemporary(
  config: PipelineConfig, operationId: string, executionArn: string, log: Logger, rethrowThrottling: boolean,
): Promise<TemporaryClusterSettlement> {
  const identifier = temporaryClusterIdentifier(config.targetClusterIdentifier, operationId);
  try {
    const lock = await lockHeldBy(config, { operationId, executionArn });
    if (!lock.held) {
      return {
        identifier,
        action: 'untouched',
        detail: `${lock.reason ?? 'This execution does not hold the lock.'} The temporary cluster was not touched.`,
        advice: `If cluster ${identifier} in ${config.targetRegion} is a leftover of this operation, delete it by hand.`,
      };
    }
    const settled = await settleTemporaryCluster(config, operationId);
    log.info('temporary cluster settled', { temporaryClusterIdentifier: identifier, action: settled.action });
    return settled;
  } catch (err) {
    if (rethrowThrottling && isThrottling(err)) throw err;
    const mapped = mapAwsError(err, `Settling temporary cluster ${identifier}`);
    log.warn('could not settle the temporary cluster; notifying anyway', { errorName: mapped.name, errorMessage: mapped.message });
    return {
      identifier,
      action: 'failed',
      errorName: mapped.name,
      detail: `Could not delete or keep the temporary cluster ${identifier} in ${config.targetRegion}: ${mapped.name}: ${truncate(mapped.message, 1000)}`,
      advice: 'Delete it by hand (its instances first) once you know why: the target was not touched.',
    };
  }
}

/**
 * NotifyDryRun: publishes the preflight's checklist. A dry run holds no lock and has no state item, so nothing is
 * released or recorded, and no audit entry is written: the message and the execution history are its record.
 */
async function notifyDryRun(event: NotificationEvent): Promise<NotificationResult> {
  const config = loadConfig();
  const state = (event?.state && typeof event.state === 'object' ? event.state : {}) as DryRunState;
  const operationId = typeof state.operationId === 'string' && OPERATION_ID_PATTERN.test(state.operationId)
    ? state.operationId
    : deriveOperationId(event?.input, event?.executionName);
  const executionArn = String(event?.executionArn ?? state.executionArn ?? '');
  const requestedBy = typeof event?.input?.requestedBy === 'string' ? truncate(event.input.requestedBy, MAX_ECHO) : undefined;
  return runStep({ step: STEP_NAMES.snsNotification, operationId, requestedBy, audit: false }, async ({ log }) => {
    const preflight = state.preflight;
    const verdict = preflight?.passed ? 'PASSED' : 'FAILED';
    const body = {
      status: DRY_RUN_STATUS,
      dryRun: { passed: preflight?.passed === true, summary: preflight?.summary },
      operationId,
      executionArn,
      executionName: event.executionName,
      consoleLink: executionConsoleLink(executionArn, config.targetRegion),
      requestedBy,
      sourceCluster: sourceClusterOf(config),
      targetCluster: { identifier: config.targetClusterIdentifier, region: config.targetRegion },
      snapshot: state.snapshot ? { identifier: state.snapshot.identifier, arn: state.snapshot.arn, createdAt: state.snapshot.createdAt } : undefined,
      checks: preflight?.checks ?? [],
      startedAt: event.executionStartTime,
      finishedAt: new Date().toISOString(),
    };
    const subject = subjectLine(`Aurora restore dry run ${verdict}: ${config.targetClusterIdentifier} (${operationId})`);
    const out = await aws(`Publishing the dry run's checklist to ${config.topicArn}`, () => sns().send(new PublishCommand({
      TopicArn: config.topicArn,
      Subject: subject,
      Message: JSON.stringify(body, null, 2),
      MessageAttributes: {
        status: { DataType: 'String', StringValue: DRY_RUN_STATUS },
        operationId: { DataType: 'String', StringValue: operationId },
      },
    })));
    log.info('dry run notified', { passed: preflight?.passed === true, messageId: out.MessageId });
    return { result: { status: DRY_RUN_STATUS, operationId, messageId: out.MessageId, lockReleased: false }, details: { dryRun: true } };
  });
}

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
  // Only the lock holder touches anything: a redriven execution that lost its lock leaves the copy alone.
  const source = sourceAccountOf(config);
  const identifier = claimed ?? (source ? shareSnapshotIdentifier : copySnapshotIdentifier)(config.targetClusterIdentifier, operationId);
  let lock: { held: boolean; reason?: string };
  try {
    lock = await lockHeldBy(config, { operationId, executionArn });
  } catch (err) {
    lock = { held: false, reason: `The lock of ${config.targetClusterIdentifier} could not be read (${(err as Error)?.name}).` };
  }
  if (!lock.held) {
    log.warn('the failure settlement does not hold the lock; the snapshot copy is left untouched', { snapshotIdentifier: identifier });
    return {
      identifier,
      region: config.targetRegion,
      ...(source ? { account: source.account } : {}),
      action: 'untouched',
      detail: `${lock.reason ?? 'This execution does not hold the lock.'} The snapshot copy was not touched.`,
      advice: source
        ? `If snapshot ${identifier} in account ${source.account} (${config.targetRegion}) is a leftover of this operation, remove it by hand: ${manualReleaseCommands(identifier, source, config.targetRegion)}.`
        : `If snapshot ${identifier} in ${config.targetRegion} is a leftover of this operation, delete it by hand.`,
    };
  }
  return settleCopy(config, operationId, claimed, state.snapshot.identifier, log, false);
}

/**
 * Deletes (or retains and tags) this operation's snapshot copy and reports what happened. Never throws,
 * except throttling when `rethrowThrottling` is set (the caller is then retried as a whole): any other
 * problem becomes action `failed`, with what to do.
 */
async function settleCopy(
  config: PipelineConfig, operationId: string, claimed: string | undefined, sourceSnapshotIdentifier: string | undefined,
  log: Logger, rethrowThrottling: boolean,
): Promise<SnapshotCopyReport> {
  const source = sourceAccountOf(config);
  if (source) return releaseAfterFailure(config, source, operationId, claimed, log, rethrowThrottling);
  const region = config.targetRegion;
  const retain = config.retainSnapshotCopy;
  let identifier = claimed ?? '';
  try {
    identifier = claimed ?? copySnapshotIdentifier(config.targetClusterIdentifier, operationId);
    const settled = await settleSnapshotCopy({
      client: rds(region), region, config, operationId, retain, claimedIdentifier: identifier, sourceSnapshotIdentifier,
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
    log.info('snapshot copy settled', { snapshotIdentifier: report.identifier, action: report.action, status: report.status });
    return report;
  } catch (err) {
    if (rethrowThrottling && isThrottling(err)) throw err;
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
    log.warn('could not settle the snapshot copy; notifying anyway', {
      snapshotIdentifier: identifier, errorName: answer.name, errorMessage: answer.message, advice: report.advice,
    });
    return report;
  }
}

/**
 * Across accounts: releases this operation's shareable copy in the source account (unshare, delete) and reports what
 * happened. Never throws but throttling (with `rethrowThrottling`): when the role is gone or the calls fail, the report
 * names what is left in the source account and the commands that remove it.
 */
async function releaseAfterFailure(
  config: PipelineConfig, source: SourceAccount, operationId: string, claimed: string | undefined, log: Logger, rethrowThrottling: boolean,
): Promise<SnapshotCopyReport> {
  const region = config.targetRegion;
  const identifier = claimed ?? shareSnapshotIdentifier(config.targetClusterIdentifier, operationId);
  const base = { identifier, region, account: source.account };
  const where = `shareable copy ${identifier} in account ${source.account} (${region})`;
  try {
    const client = await sourceRds(config, source, operationId);
    const released = await releaseShareCopy({ client, config, source, operationId, claimedIdentifier: identifier });
    let report: SnapshotCopyReport;
    switch (released.action) {
      case 'deleted':
        report = {
          ...base,
          status: released.status,
          action: 'deleted',
          detail: released.alreadyDeleting
            ? `RDS was already deleting ${where}.`
            : `Released ${where}: ${released.unshared ? `account ${source.pipelineAccount} removed from its share, ` : ''}deleted${released.status && released.status !== 'available' ? ` (it was '${released.status}': RDS cancels the copy)` : ''}.`,
        };
        break;
      case 'absent':
        report = { ...base, action: 'none', detail: `No ${where} exists: it was never made, or is already deleted.` };
        break;
      case 'untouched':
        report = {
          ...base,
          status: released.status,
          action: 'untouched',
          detail: released.reason ?? `${where} was left untouched.`,
          advice: `Nothing was deleted. Check snapshot ${identifier} in account ${source.account}; if it is a leftover of this operation, remove it by hand: ${manualReleaseCommands(identifier, source, region)}.`,
        };
        break;
    }
    log.info('shareable copy settled', { snapshotIdentifier: identifier, account: source.account, action: report.action, status: report.status });
    return report;
  } catch (err) {
    if (rethrowThrottling && isThrottling(err)) throw err;
    const mapped = mapAwsError(err, `Releasing ${where}`);
    const report: SnapshotCopyReport = {
      ...base,
      action: 'failed',
      errorName: mapped.name,
      detail: `Could not release ${where}: ${mapped.name}: ${truncate(mapped.message, 1000)} It may still exist there, shared with account ${source.pipelineAccount}.`,
      advice: `Remove it by hand, ${manualReleaseCommands(identifier, source, region)} (once it is no longer being copied). If the role ${source.roleArn} is gone, use an administrator of account ${source.account}.`,
    };
    log.warn('could not release the shareable copy; notifying anyway', { snapshotIdentifier: identifier, account: source.account, errorName: mapped.name, advice: report.advice });
    return report;
  }
}

/** The source cluster as notifications name it: across accounts, with its account. */
function sourceClusterOf(config: PipelineConfig): Record<string, string> {
  const source = sourceAccountOf(config);
  return { identifier: config.sourceClusterIdentifier, region: config.sourceRegion, ...(source ? { account: source.account } : {}) };
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

// ----- executions that never reached NotifyFailure: stopped by hand, or past the state machine's timeout -----

/** The statuses the pipeline's EventBridge rule delivers, and the error each is recorded under. */
const STOPPED_STATUSES: Record<string, PipelineErrorName> = {
  ABORTED: PipelineErrorName.EXECUTION_ABORTED,
  TIMED_OUT: PipelineErrorName.EXECUTION_TIMED_OUT,
};

const EXECUTION_ARN_PATTERN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]+:[^:\s]+$/;

/** A validated status change of one of the pipeline's executions. */
interface StoppedExecution {
  readonly status: 'ABORTED' | 'TIMED_OUT';
  readonly errorName: PipelineErrorName;
  readonly executionArn: string;
  readonly executionName: string;
  readonly startedAt?: string;
  readonly stoppedAt: string;
  /** The execution input, parsed, when the event carries it. */
  readonly input?: Record<string, unknown>;
  /** How often the execution had been redriven when it stopped, when the event says. */
  readonly redriveCount?: number;
}

/**
 * Whether the event came from EventBridge rather than from the state machine: the state machine's payload
 * never has `source` or `detail-type`. Anything that has either is validated as a status change.
 */
function isFromEventBridge(event: unknown): boolean {
  return !!event && typeof event === 'object' && ('detail-type' in event || 'source' in event);
}

/** Validates an EventBridge status change; anything else is `InvalidInput` naming the field. */
function parseStatusChange(event: unknown): StoppedExecution {
  const e = event as Record<string, any>;
  const invalid = (field: string, problem: string) => errors.invalidInput(
    `The sns-notification function received an EventBridge event whose ${field} ${problem}. It settles only the ABORTED and TIMED_OUT `
    + `executions of this pipeline's state machine, delivered by the pipeline's own rule (source '${EXECUTION_STATUS_CHANGE.source}', `
    + `detail-type '${EXECUTION_STATUS_CHANGE.detailType}'). Nothing was changed. If you invoked it by hand or added a rule, send the `
    + 'event exactly as EventBridge delivers it.');
  if (e.source !== EXECUTION_STATUS_CHANGE.source) throw invalid('source', `is ${describeValue(e.source)}, not '${EXECUTION_STATUS_CHANGE.source}'`);
  if (e['detail-type'] !== EXECUTION_STATUS_CHANGE.detailType) {
    throw invalid('detail-type', `is ${describeValue(e['detail-type'])}, not '${EXECUTION_STATUS_CHANGE.detailType}'`);
  }
  const d = e.detail;
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw invalid('detail', 'is missing or not an object');
  if (typeof d.executionArn !== 'string' || !EXECUTION_ARN_PATTERN.test(d.executionArn)) {
    throw invalid('detail.executionArn', `is ${describeValue(d.executionArn)}, not a Step Functions execution ARN`);
  }
  const status = d.status;
  if (typeof status !== 'string' || !(status in STOPPED_STATUSES)) {
    throw invalid('detail.status', `is ${describeValue(status)}, not ABORTED or TIMED_OUT (a FAILED or SUCCEEDED execution notifies itself)`);
  }
  if (typeof d.name !== 'string' || d.name === '') throw invalid('detail.name', `is ${describeValue(d.name)}, not the execution's name`);
  if (d.startDate !== undefined && d.startDate !== null && typeof d.startDate !== 'number') throw invalid('detail.startDate', 'is not epoch milliseconds');
  if (d.stopDate !== undefined && d.stopDate !== null && typeof d.stopDate !== 'number') throw invalid('detail.stopDate', 'is not epoch milliseconds');
  if (d.input !== undefined && d.input !== null && typeof d.input !== 'string') throw invalid('detail.input', 'is not the execution input as a JSON string');
  let input: Record<string, unknown> | undefined;
  try {
    const parsed = typeof d.input === 'string' ? JSON.parse(d.input) : undefined;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed;
  } catch {
    // An input that is not JSON says nothing about the operation: the execution's name identifies it.
  }
  const isoOf = (ms: unknown) => (typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : undefined);
  return {
    status: status as StoppedExecution['status'],
    errorName: STOPPED_STATUSES[status],
    executionArn: d.executionArn,
    executionName: d.name,
    startedAt: isoOf(d.startDate),
    stoppedAt: isoOf(d.stopDate) ?? (typeof e.time === 'string' && !Number.isNaN(Date.parse(e.time)) ? new Date(e.time).toISOString() : new Date().toISOString()),
    input,
    ...(typeof d.redriveCount === 'number' && Number.isInteger(d.redriveCount) ? { redriveCount: d.redriveCount } : {}),
  };
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/**
 * Settles an execution that was stopped (ABORTED) or ran past the state machine's timeout (TIMED_OUT), which
 * never reaches NotifyFailure. Only when that execution still holds the lock on the target, with the operation
 * the lock names: the snapshot copy is settled like on the failure path, the operation recorded as FAILED
 * (ExecutionAborted / ExecutionTimedOut), the notification published, and the lock released last, so that a
 * retry after any failure finds the lock still held and does it all again. Throttling, a failed publish and a
 * failed release are thrown (Lambda retries the event, then it lands in the dead-letter queue); other problems
 * with the state item, the audit trail or the copy are reported and never stop the notification.
 *
 * When the execution holds no lock (it never took one, or an earlier delivery of the same event settled it)
 * or a newer run holds it, nothing is changed: a short notification says so, unless the operation is already
 * recorded as settled by this handler (a repeated event), which is only audited as SKIPPED.
 */
async function settleStoppedExecution(stopped: StoppedExecution): Promise<NotificationResult> {
  const config = loadConfig();
  const target = config.targetClusterIdentifier;
  const key = lockKey(target);
  const lock = await getOperation(key);
  const holder = typeof lock?.holder_operation_id === 'string' ? lock.holder_operation_id : undefined;
  const holderExecution = typeof lock?.holder_execution_arn === 'string' ? lock.holder_execution_arn : undefined;
  if (!lock || holderExecution !== stopped.executionArn || holder === undefined) {
    const reason = !lock
      ? `No lock on ${target} is held (${key} does not exist): the execution stopped before taking it, or its lock was already released.`
      : `The lock on ${target} is held by operation ${holder ?? 'unknown'} (execution ${holderExecution ?? 'unknown'}), not by this execution.`;
    return notifyUnsettled(config, stopped, reason);
  }
  const operationId = holder;
  const runningAgain = await runningSinceStop(stopped);
  if (runningAgain) return skipRunningAgain(stopped, operationId, runningAgain);

  return runStep({ step: STEP_NAMES.snsNotification, operationId, bestEffortAudit: true }, async ({ log }) => {
    // Reported problems: logged, never stopping the notification. Throttling makes Lambda retry the whole event.
    const bookkeeping = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await call();
      } catch (err) {
        if (isThrottling(err)) throw err;
        log.warn(`bookkeeping failed: ${what}; notifying anyway`, { errorName: (err as Error)?.name, errorMessage: (err as Error)?.message });
        return undefined;
      }
    };
    const found = await bookkeeping('reading the state item', () => getOperation(operationId));
    const item = found && found.execution_arn === stopped.executionArn ? found : undefined;
    const requestedBy = str(item?.requested_by) ?? (str(stopped.input?.requestedBy) && truncate(str(stopped.input?.requestedBy)!, MAX_ECHO));
    const lastStep = str(item?.step);
    const snapshotIdentifier = str(item?.snapshot_identifier);

    const snapshotCopy = config.sourceRegion !== config.targetRegion || sourceAccountOf(config)
      ? await settleCopy(config, operationId, undefined, snapshotIdentifier, log, true)
      : undefined;

    const temporaryCluster = await settleTemporary(config, operationId, stopped.executionArn, log, true);
    const cause = stoppedCause(config, stopped, lastStep, snapshotCopy);
    const recorded = await bookkeeping('writing the final state', () => updateOperation(operationId, stopped.executionArn, {
      status: OperationStatus.FAILED,
      finishedAt: stopped.stoppedAt,
      errorName: stopped.errorName,
      errorMessage: cause,
      sourceClusterIdentifier: config.sourceClusterIdentifier,
      targetClusterIdentifier: target,
      requestedBy,
    }));
    if (recorded === false) log.warn('the state item belongs to another execution; left unchanged', { executionArn: stopped.executionArn });
    const audit = await bookkeeping('reading the audit trail', () => listAudit(operationId, stopped.startedAt));

    const body = {
      status: stopped.status,
      operationId,
      executionArn: stopped.executionArn,
      executionName: stopped.executionName,
      consoleLink: executionConsoleLink(stopped.executionArn, config.targetRegion),
      requestedBy,
      sourceCluster: sourceClusterOf(config),
      targetCluster: { identifier: target, region: config.targetRegion, consoleLink: clusterConsoleLink(config.targetRegion, target) },
      snapshot: snapshotIdentifier ? { identifier: snapshotIdentifier, arn: str(item?.snapshot_arn) } : undefined,
      lastStep,
      snapshotCopy,
      temporaryCluster: temporaryCluster.action === 'none' ? undefined : temporaryCluster,
      lock: `${key}, held by this execution, is released once this message is sent.`,
      startedAt: stopped.startedAt,
      finishedAt: stopped.stoppedAt,
      stepDurationsMs: audit ? stepDurations(audit) : undefined,
      error: { name: stopped.errorName, cause },
    };
    const messageId = await publish(config, stopped.status, operationId, body);
    // Last: until the lock is released, a retry of this event settles and notifies again.
    const lockReleased = await releaseLock(target, operationId, stopped.executionArn);
    log.info('stopped execution settled', { status: stopped.status, executionArn: stopped.executionArn, lockReleased, errorName: stopped.errorName });
    return {
      result: { status: stopped.status, operationId, messageId, lockReleased, temporaryCluster, ...(snapshotCopy ? { snapshotCopy } : {}) },
      details: {
        status: stopped.status,
        messageId,
        lockReleased,
        errorName: stopped.errorName,
        executionArn: stopped.executionArn,
        lastStep,
        snapshotCopyIdentifier: snapshotCopy?.identifier,
        snapshotCopyAction: snapshotCopy?.action,
        snapshotCopyError: snapshotCopy?.errorName,
      },
    };
  });
}

/**
 * Why the stopped execution must not be settled because it runs again (redriven after it stopped), or
 * `undefined`. Step Functions is asked (DescribeExecution): the event may arrive late, after a redrive. An
 * execution Step Functions does not know cannot run again.
 */
async function runningSinceStop(stopped: StoppedExecution): Promise<string | undefined> {
  let current;
  try {
    current = await sfn().send(new DescribeExecutionCommand({ executionArn: stopped.executionArn }));
  } catch (err) {
    if ((err as { name?: string })?.name === 'ExecutionDoesNotExist') return undefined;
    throw mapAwsError(err, `Describing execution ${stopped.executionArn} (is it running again?)`);
  }
  if (current.status !== stopped.status) {
    return `Execution ${stopped.executionName} is ${current.status ?? 'in an unknown status'} now, not ${stopped.status}: it was redriven after it stopped.`;
  }
  if (stopped.redriveCount !== undefined && typeof current.redriveCount === 'number' && current.redriveCount > stopped.redriveCount) {
    return `Execution ${stopped.executionName} was redriven ${current.redriveCount - stopped.redriveCount} time(s) after this ${stopped.status} event; a later event settles it.`;
  }
  return undefined;
}

/** A late event of an execution that runs again: nothing is changed or published (the execution notifies itself). */
async function skipRunningAgain(stopped: StoppedExecution, operationId: string, reason: string): Promise<NotificationResult> {
  return runStep<NotificationResult>({ step: STEP_NAMES.snsNotification, operationId, bestEffortAudit: true }, async ({ log }) => {
    const details = { status: stopped.status, executionArn: stopped.executionArn, reason };
    log.info('stopped execution runs again: nothing settled', details);
    return { result: { status: stopped.status, operationId, lockReleased: false, skipped: reason }, outcome: AuditOutcome.SKIPPED, details };
  });
}

/**
 * A stopped execution this handler may not settle: nothing is changed. A short notification says so, unless
 * the operation the execution would have had is already recorded as settled by an earlier delivery of the
 * same event (then only the SKIPPED audit entry is written).
 */
async function notifyUnsettled(config: PipelineConfig, stopped: StoppedExecution, reason: string): Promise<NotificationResult> {
  const operationId = deriveOperationId(stopped.input, stopped.executionName);
  return runStep<NotificationResult>({ step: STEP_NAMES.snsNotification, operationId, bestEffortAudit: true }, async ({ log }) => {
    let item: Record<string, unknown> | undefined;
    try {
      item = await getOperation(operationId);
    } catch (err) {
      if (isThrottling(err)) throw err;
      log.warn('could not read the state item; notifying anyway', { errorName: (err as Error)?.name, errorMessage: (err as Error)?.message });
    }
    const ours = item?.execution_arn === stopped.executionArn;
    const details = { status: stopped.status, executionArn: stopped.executionArn, reason, operationStatus: ours ? str(item?.status) : undefined };
    if (ours && item?.error_name === stopped.errorName) {
      log.info('stopped execution already settled; nothing to do', details);
      return { result: { status: stopped.status, operationId, lockReleased: false, skipped: `${reason} It was already settled.` }, outcome: AuditOutcome.SKIPPED, details };
    }
    const detail = `${reason} Nothing was changed: no lock released, no state item written, no snapshot touched. `
      + (ours
        ? `The operation's state item says ${str(item?.status) ?? 'nothing'}. `
        : '')
      + `If the execution had started a snapshot copy or a restore, check the RDS console (${clusterConsoleLink(config.targetRegion, config.targetClusterIdentifier)}) `
      + 'for what it left; a copy is named <target>-<operationId>.';
    const body = {
      status: stopped.status,
      operationId,
      executionArn: stopped.executionArn,
      executionName: stopped.executionName,
      consoleLink: executionConsoleLink(stopped.executionArn, config.targetRegion),
      targetCluster: { identifier: config.targetClusterIdentifier, region: config.targetRegion },
      settled: false,
      detail,
      startedAt: stopped.startedAt,
      finishedAt: stopped.stoppedAt,
    };
    const messageId = await publish(config, stopped.status, operationId, body);
    log.info('stopped execution not settled: nothing changed', details);
    return {
      result: { status: stopped.status, operationId, messageId, lockReleased: false, skipped: reason },
      outcome: AuditOutcome.SKIPPED,
      details: { ...details, messageId },
    };
  });
}

/** The recorded error message of a stopped execution: what happened, what was done, what to do. */
function stoppedCause(config: PipelineConfig, stopped: StoppedExecution, lastStep: string | undefined, copy: SnapshotCopyReport | undefined): string {
  const target = config.targetClusterIdentifier;
  const what = stopped.status === 'ABORTED'
    ? `Execution ${stopped.executionName} was stopped (ABORTED) at ${stopped.stoppedAt}`
    : `Execution ${stopped.executionName} ran past the pipeline's timeout of ${config.lockTtlSeconds}s (TIMED_OUT) at ${stopped.stoppedAt}`;
  const copyText = copy ? ` ${copy.detail}${copy.advice ? ` ${copy.advice}` : ''}` : '';
  const timeoutAdvice = stopped.status === 'TIMED_OUT'
    ? ' If restores of this size legitimately take this long, raise the pipeline\'s timeout (and waitBudget).'
    : '';
  return `${what}${lastStep ? ` during ${lastStep}` : ''}, so it never reached its failure notification. The pipeline recorded the operation as failed`
    + ` and releases its lock on ${target}.${copyText} A cluster being restored or deleted is NOT deleted: check ${target} in the RDS console`
    + ` (${clusterConsoleLink(config.targetRegion, target)}) for a cluster or snapshot copy left mid-operation; the next run replaces a target`
    + ` this pipeline owns as usual.${timeoutAdvice}`;
}

/** Publishes a notification; errors are thrown (throttling under its own name). */
async function publish(config: PipelineConfig, status: string, operationId: string, body: Record<string, unknown>): Promise<string | undefined> {
  const out = await aws(`Publishing the ${status} notification to ${config.topicArn}`, () => sns().send(new PublishCommand({
    TopicArn: config.topicArn,
    Subject: subjectLine(`Aurora restore ${status}: ${config.targetClusterIdentifier} (${operationId})`),
    Message: JSON.stringify(body, null, 2),
    MessageAttributes: {
      status: { DataType: 'String', StringValue: status },
      operationId: { DataType: 'String', StringValue: operationId },
    },
  })));
  return out.MessageId;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

