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
 *
 * Across accounts it releases instead, as the source account's role (lib/share-copy): the pipeline's account is removed
 * from the shareable copy's share, and the copy is deleted, only when it carries this operation's tags. Nothing is
 * archived in either account.
 */
import { ArchiveResult, PipelineState, STEP_NAMES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors } from './lib/errors';
import { releaseShareCopy } from './lib/share-copy';
import { settleSnapshotCopy } from './lib/snapshot-copy';
import { sourceAccountOf, sourceRds } from './lib/source-account';
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
    const source = sourceAccountOf(config);
    if (source) {
      const released = await releaseShareCopy({
        client: await sourceRds(config, source, state.operationId),
        config,
        source,
        operationId: state.operationId,
        claimedIdentifier: state.copy.snapshotIdentifier,
      });
      const id = released.snapshotIdentifier;
      if (released.action === 'untouched') {
        throw errors.snapshotCopyFailed(`${released.reason} The restored cluster is in place; check snapshot ${id} in account ${source.account} (${region}) and delete it by hand if it is a leftover of execution ${state.executionArn}.`);
      }
      log.info('shareable copy released', { snapshotIdentifier: id, account: source.account, action: released.action, unshared: released.unshared });
      return {
        result: { action: 'deleted', snapshotIdentifier: id },
        details: {
          snapshotIdentifier: id,
          account: source.account,
          action: 'deleted',
          unshared: released.unshared ?? false,
          ...(released.action === 'absent' ? { note: 'already deleted' } : released.alreadyDeleting ? { note: 'already being deleted' } : {}),
        },
      };
    }
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
