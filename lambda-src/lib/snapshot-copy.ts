import { AddTagsToResourceCommand, DeleteDBClusterSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { mapAwsError } from './errors';
import { copySnapshotIdentifier, isFromOperation, sameRdsIdentifier, tagValue } from './naming';
import { describeClusterSnapshot, isFault, tagsOf } from './rds';
import { PipelineConfig, PipelineTag } from '../../src/contracts';

/** What {@link settleSnapshotCopy} should do with the operation's copy. */
export interface SettleSnapshotCopyOptions {
  readonly client: RDSClient;
  /** The region the copy lives in (the target region). */
  readonly region: string;
  readonly config: PipelineConfig;
  readonly operationId: string;
  /** Keep the copy and tag it `aurora-restore-pipeline:retained=true` instead of deleting it. */
  readonly retain: boolean;
  /**
   * The copy identifier the state names (`$.copy.snapshotIdentifier`). Anything other than this operation's
   * copy name is refused without a call to RDS.
   * @default - this operation's copy name
   */
  readonly claimedIdentifier?: string;
  /**
   * The source snapshot's identifier: a copy name equal to it is refused without a call to RDS.
   * @default - no such check
   */
  readonly sourceSnapshotIdentifier?: string;
}

/**
 * What was done with the operation's copy:
 * - `deleted`: deleted now, or RDS was already deleting it (`alreadyDeleting`);
 * - `retained`: kept, tagged as retained;
 * - `absent`: no snapshot of that name exists (never made, or already gone), or, when retaining, RDS is
 *   already deleting it (`status` is then `deleting`);
 * - `untouched`: refused, `reason` says why (not this operation's copy name, the source snapshot's name, or
 *   not this operation's tags); nothing was changed.
 */
export interface SnapshotCopyOutcome {
  readonly action: 'deleted' | 'retained' | 'absent' | 'untouched';
  /** The snapshot acted on (or refused). */
  readonly snapshotIdentifier: string;
  /** The copy's status as RDS described it, when found (e.g. `copying`). */
  readonly status?: string;
  /** For `deleted`: RDS was already deleting it, so no delete was sent. */
  readonly alreadyDeleting?: boolean;
  /** For `untouched`: what is wrong, naming the snapshot; the caller adds what to do. */
  readonly reason?: string;
}

/**
 * Deletes, or retains and tags, the snapshot copy this operation made in the target region. It only ever
 * touches the snapshot named `copySnapshotIdentifier(target, operationId)` that also carries this pipeline's
 * and this operation's tags; never the source snapshot, never anything else. A copy still `copying` is
 * deleted too (RDS cancels the copy).
 *
 * Idempotent: a copy already gone is `absent`, one RDS is already deleting is `deleted` without a second
 * delete, retaining re-applies the same tag. AWS errors are thrown as mapped pipeline errors (a copy RDS
 * will not delete yet, InvalidDBClusterSnapshotStateFault, is ResourceBusy); the caller decides whether
 * they fail its step.
 */
export async function settleSnapshotCopy(opts: SettleSnapshotCopyOptions): Promise<SnapshotCopyOutcome> {
  const { client, region, config, operationId } = opts;
  const expected = copySnapshotIdentifier(config.targetClusterIdentifier, operationId);
  const copyId = opts.claimedIdentifier ?? expected;
  if (copyId !== expected) {
    return {
      action: 'untouched',
      snapshotIdentifier: copyId,
      reason: `Refusing to touch snapshot ${copyId}: this operation's copy is named ${expected}.`,
    };
  }
  if (opts.sourceSnapshotIdentifier !== undefined && sameRdsIdentifier(copyId, opts.sourceSnapshotIdentifier)) {
    return {
      action: 'untouched',
      snapshotIdentifier: copyId,
      reason: `Refusing to touch snapshot ${copyId}: it has the source snapshot's name, and the source snapshot is never touched.`,
    };
  }

  const copy = await describeClusterSnapshot(client, copyId, region);
  if (!copy) return { action: 'absent', snapshotIdentifier: copyId };
  const status = copy.Status;
  if (copy.DBClusterSnapshotIdentifier !== undefined && !sameRdsIdentifier(copy.DBClusterSnapshotIdentifier, copyId)) {
    return {
      action: 'untouched',
      snapshotIdentifier: copyId,
      status,
      reason: `Asked for snapshot ${copyId} in ${region}, RDS described ${copy.DBClusterSnapshotIdentifier}; neither was touched.`,
    };
  }
  const tags = await tagsOf(client, copy, copy.DBClusterSnapshotArn, region);
  if (!isFromOperation(tags, config, operationId)) {
    return {
      action: 'untouched',
      snapshotIdentifier: copyId,
      status,
      reason: `Snapshot ${copyId} in ${region} does not carry this operation's tags (${PipelineTag.PIPELINE}='${tagValue(tags, PipelineTag.PIPELINE) ?? ''}', ${PipelineTag.OPERATION_ID}='${tagValue(tags, PipelineTag.OPERATION_ID) ?? ''}'), so it was left untouched.`,
    };
  }

  if (opts.retain) {
    // Someone else is deleting it: there is nothing left to keep.
    if (status === 'deleting') return { action: 'absent', snapshotIdentifier: copyId, status };
    try {
      await client.send(new AddTagsToResourceCommand({
        ResourceName: copy.DBClusterSnapshotArn,
        Tags: [{ Key: PipelineTag.RETAINED, Value: 'true' }],
      }));
    } catch (err) {
      throw mapped(err, `Tagging snapshot copy ${copyId} in ${region} as retained`);
    }
    return { action: 'retained', snapshotIdentifier: copyId, status };
  }
  if (status === 'deleting') {
    return { action: 'deleted', snapshotIdentifier: copyId, status, alreadyDeleting: true };
  }
  try {
    await client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: copyId }));
  } catch (err) {
    if (!isFault(err, 'DBClusterSnapshotNotFoundFault')) {
      throw mapped(err, `Deleting snapshot copy ${copyId} in ${region}${status ? ` (status '${status}')` : ''}`);
    }
  }
  return { action: 'deleted', snapshotIdentifier: copyId, status };
}

/**
 * The AWS error RDS answered with, when a pipeline error was made from one here (its `cause`): a caller that
 * reports rather than throws names RDS's own refusal, e.g. InvalidDBClusterSnapshotStateFault.
 */
export function awsCause(err: unknown): { name: string; message: string } | undefined {
  const cause = (err as { cause?: unknown })?.cause as { name?: unknown; message?: unknown } | undefined;
  if (!cause || typeof cause.name !== 'string') return undefined;
  return { name: cause.name, message: typeof cause.message === 'string' ? cause.message : '' };
}

/** {@link mapAwsError}, keeping the original error as `cause` when the mapping replaced it. */
function mapped(err: unknown, context: string): Error {
  const out = mapAwsError(err, context);
  if (out !== err) Object.defineProperty(out, 'cause', { value: err, enumerable: false, configurable: true, writable: true });
  return out;
}
