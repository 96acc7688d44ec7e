/*
 * ArchiveSnapshot: deletes the snapshot copy made for this operation, or keeps it with the tag
 * `aurora-restore-pipeline:retained=true` when retainSnapshotCopy is set (`$.archive`). It only touches
 * the copy whose identifier is this operation's copy name AND whose tags name this pipeline and this
 * operation; never the source snapshot. No copy was made: action 'none'. The failure path
 * (sns-notification) settles the copy the same way, through lib/snapshot-copy.
 *
 * Called twice: deleting converges (a copy already gone, or already being deleted, is reported 'deleted');
 * retaining re-applies the same tag. A copy that is not this operation's is refused with SnapshotCopyFailed
 * and left untouched.
 */
import { ArchiveResult, PipelineState, STEP_NAMES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors } from './lib/errors';
import { settleSnapshotCopy } from './lib/snapshot-copy';
import { runStep } from './lib/step';
import { AuditOutcome } from './lib/store';

export const handler = async (state: PipelineState): Promise<ArchiveResult> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.archiveSnapshot, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep<ArchiveResult>(opts, async ({ log }) => {
    if (!state.copyRequired || !state.copy?.snapshotIdentifier) {
      return { result: { action: 'none' }, outcome: AuditOutcome.SKIPPED, details: { reason: 'no snapshot copy was made' } };
    }
    const region = config.targetRegion;
    const settled = await settleSnapshotCopy({
      client: rds(region),
      region,
      config,
      operationId: state.operationId,
      retain: config.retainSnapshotCopy,
      claimedIdentifier: state.copy.snapshotIdentifier,
      sourceSnapshotIdentifier: state.snapshot?.identifier,
    });
    const copyId = settled.snapshotIdentifier;
    switch (settled.action) {
      case 'untouched':
        throw errors.snapshotCopyFailed(`${settled.reason} The restored cluster is in place; check the state of execution ${state.executionArn} and delete or keep that snapshot by hand.`);
      case 'absent':
        if (config.retainSnapshotCopy) {
          log.warn('the snapshot copy to retain no longer exists', { snapshotIdentifier: copyId, status: settled.status });
          return { result: { action: 'none', snapshotIdentifier: copyId }, outcome: AuditOutcome.SKIPPED, details: { snapshotIdentifier: copyId, reason: 'copy not found' } };
        }
        return { result: { action: 'deleted', snapshotIdentifier: copyId }, details: { snapshotIdentifier: copyId, note: 'already deleted' } };
      case 'deleted':
        return {
          result: { action: 'deleted', snapshotIdentifier: copyId },
          details: { snapshotIdentifier: copyId, action: 'deleted', ...(settled.alreadyDeleting ? { note: 'already being deleted' } : {}) },
        };
      case 'retained':
        return { result: { action: 'retained', snapshotIdentifier: copyId }, details: { snapshotIdentifier: copyId, action: 'retained' } };
    }
  });
};
