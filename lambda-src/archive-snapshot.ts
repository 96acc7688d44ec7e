/*
 * ArchiveSnapshot: deletes the snapshot copy made for this operation, or keeps it with the tag
 * `aurora-restore-pipeline:retained=true` when retainSnapshotCopy is set (`$.archive`). It only touches
 * the copy whose identifier is this operation's copy name AND whose tags name this pipeline and this
 * operation; never the source snapshot. No copy was made: action 'none'.
 *
 * Called twice: deleting converges (a copy already gone is reported 'deleted'); retaining re-applies the
 * same tag. A copy that is not this operation's is refused with SnapshotCopyFailed and left untouched.
 */
import { AddTagsToResourceCommand, DeleteDBClusterSnapshotCommand } from '@aws-sdk/client-rds';
import { ArchiveResult, PipelineState, PipelineTag, STEP_NAMES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { aws, errors, mapAwsError } from './lib/errors';
import { copySnapshotIdentifier, isFromOperation, tagValue } from './lib/naming';
import { describeClusterSnapshot, isFault, tagsOf } from './lib/rds';
import { runStep } from './lib/step';
import { AuditOutcome } from './lib/store';

export const handler = async (state: PipelineState): Promise<ArchiveResult> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.archiveSnapshot, operationId: state.operationId, executionArn: state.executionArn };
  return runStep<ArchiveResult>(opts, async ({ log }) => {
    if (!state.copyRequired || !state.copy?.snapshotIdentifier) {
      return { result: { action: 'none' }, outcome: AuditOutcome.SKIPPED, details: { reason: 'no snapshot copy was made' } };
    }
    const region = config.targetRegion;
    const copyId = state.copy.snapshotIdentifier;
    const expected = copySnapshotIdentifier(config.targetClusterIdentifier, state.operationId);
    if (copyId !== expected || copyId === state.snapshot?.identifier) {
      throw errors.snapshotCopyFailed(`Refusing to archive snapshot ${copyId}: this operation's copy is named ${expected}, and the source snapshot is never touched. The restored cluster is in place; check the state of execution ${state.executionArn} and clean up snapshot copies by hand.`);
    }
    const client = rds(region);
    const copy = await describeClusterSnapshot(client, copyId, region);
    if (!copy) {
      if (config.retainSnapshotCopy) {
        log.warn('the snapshot copy to retain no longer exists', { snapshotIdentifier: copyId });
        return { result: { action: 'none', snapshotIdentifier: copyId }, outcome: AuditOutcome.SKIPPED, details: { snapshotIdentifier: copyId, reason: 'copy not found' } };
      }
      return { result: { action: 'deleted', snapshotIdentifier: copyId }, details: { snapshotIdentifier: copyId, note: 'already deleted' } };
    }
    const tags = await tagsOf(client, copy, copy.DBClusterSnapshotArn, region);
    if (!isFromOperation(tags, config, state.operationId)) {
      throw errors.snapshotCopyFailed(`Snapshot ${copyId} in ${region} does not carry this operation's tags (${PipelineTag.PIPELINE}='${tagValue(tags, PipelineTag.PIPELINE) ?? ''}', ${PipelineTag.OPERATION_ID}='${tagValue(tags, PipelineTag.OPERATION_ID) ?? ''}'), so it was left untouched. The restored cluster is in place; delete or keep that snapshot by hand.`);
    }

    if (config.retainSnapshotCopy) {
      await aws(`Tagging snapshot copy ${copyId} in ${region} as retained`, () => client.send(new AddTagsToResourceCommand({
        ResourceName: copy.DBClusterSnapshotArn,
        Tags: [{ Key: PipelineTag.RETAINED, Value: 'true' }],
      })));
      return { result: { action: 'retained', snapshotIdentifier: copyId }, details: { snapshotIdentifier: copyId, action: 'retained' } };
    }
    try {
      await client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: copyId }));
    } catch (err) {
      if (!isFault(err, 'DBClusterSnapshotNotFoundFault')) {
        throw mapAwsError(err, `Deleting snapshot copy ${copyId} in ${region}`);
      }
    }
    return { result: { action: 'deleted', snapshotIdentifier: copyId }, details: { snapshotIdentifier: copyId, action: 'deleted' } };
  });
};
