/*
 * CheckCopyStatus: reports the progress of the snapshot copy (`$.copy`), one check of the copy loop.
 *
 * Called twice: it only reads, so a second call reports the same status (with the attempt counter one
 * higher, which only lengthens the next wait). Past the wait budget it throws OperationTimedOut.
 *
 * Across accounts it reads the shareable copy as the source account's role and, once the copy is available, shares it
 * with the pipeline's account (attribute `restore`), once: a second call finds the share and adds nothing.
 */
import { CopyProgress, PipelineState, STEP_NAMES, WAIT_PHASES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors } from './lib/errors';
import { recordPhase } from './lib/phase-history';
import { describeClusterSnapshot, percent } from './lib/rds';
import { shareWithPipeline } from './lib/share-copy';
import { sourceAccountOf, sourceRds } from './lib/source-account';
import { runStep, waitOutcome } from './lib/step';
import { phaseSeconds, progress } from './lib/waits';

const IN_PROGRESS = new Set(['creating', 'copying', 'pending']);

export const handler = async (state: PipelineState): Promise<CopyProgress> => {
  const config = loadConfig();
  // Sharing is a change: across accounts only the lock holder checks (and shares).
  const changesTarget = sourceAccountOf(config) !== undefined;
  const opts = { step: STEP_NAMES.checkCopyStatus, operationId: state.operationId, executionArn: state.executionArn, changesTarget };
  return runStep(opts, async ({ log }) => {
    const previous = state.copy;
    if (!previous?.snapshotIdentifier) {
      throw errors.invalidInput(`Operation ${state.operationId} has no snapshot copy to check ($.copy is missing). The state machine definition is inconsistent: redeploy the pipeline and start the restore again.`);
    }
    const copyId = previous.snapshotIdentifier;
    const source = sourceAccountOf(config);
    const client = source ? await sourceRds(config, source, state.operationId) : rds(config.targetRegion);
    const where = source ? `account ${source.account} (${config.targetRegion})` : config.targetRegion;
    const copy = await describeClusterSnapshot(client, copyId, config.targetRegion);
    if (!copy) {
      throw errors.snapshotCopyFailed(`Snapshot copy ${copyId} disappeared from ${where} while it was being copied (deleted by someone, or RDS gave up). Check the RDS events of ${where}, then start the restore again.`);
    }
    const status = copy.Status ?? 'unknown';
    const done = status === 'available';
    if (!done && !IN_PROGRESS.has(status)) {
      throw errors.snapshotCopyFailed(`Snapshot copy ${copyId} in ${where} is '${status}'. Check the RDS events for the reason (often the KMS key ${source ? source.shareKeyArn : config.snapshotCopyKeyArn} or its grants), delete the copy if it remains, then start the restore again.`);
    }
    const shared = done && source ? await shareWithPipeline(client, copyId, source, config.targetRegion) : undefined;
    if (shared) log.info('shareable copy shared with the pipeline\'s account', { snapshotIdentifier: copyId, account: source!.pipelineAccount });
    const now = new Date();
    const seconds = done ? phaseSeconds(previous, now) : undefined;
    if (seconds !== undefined) await recordPhase(WAIT_PHASES.copy, state.operationId, seconds, log, now);
    const result: CopyProgress = {
      ...progress({ done, status, percentProgress: percent(copy.PercentProgress) }, previous, config.waits, `the copy of ${state.snapshot.identifier} to ${copyId} in ${config.targetRegion}`, now),
      snapshotIdentifier: copyId,
      snapshotArn: copy.DBClusterSnapshotArn ?? previous.snapshotArn,
      kmsKeyId: copy.KmsKeyId ?? previous.kmsKeyId,
    };
    return {
      result,
      outcome: waitOutcome(done),
      details: {
        snapshotIdentifier: copyId,
        status,
        attempt: result.attempt,
        percentProgress: result.percentProgress,
        ...(shared !== undefined ? { sharedNow: shared } : {}),
      },
    };
  });
};
