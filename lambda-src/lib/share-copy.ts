/*
 * The shareable copy in the source account (cross-account mode): sharing it with the pipeline's account, and
 * releasing it (unshare, delete) after the restore, a failure, an abort or a timeout. Every call goes through the
 * source account's role (lib/source-account.ts), and only a snapshot named after this operation that carries this
 * pipeline's and this operation's tags is ever touched.
 */
import {
  DBClusterSnapshot,
  DeleteDBClusterSnapshotCommand,
  DescribeDBClusterSnapshotAttributesCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  RDSClient,
  Tag,
} from '@aws-sdk/client-rds';
import { errors, mapAwsError } from './errors';
import { isFromOperation, sameRdsIdentifier, shareSnapshotIdentifier, tagValue } from './naming';
import { describeClusterSnapshot, isFault, tagsOf } from './rds';
import { SourceAccount } from './source-account';
import { PipelineConfig, PipelineTag } from '../../src/contracts';

/** The snapshot attribute that lists the accounts allowed to restore (and copy) a manual snapshot. */
const RESTORE_ATTRIBUTE = 'restore';

/** Whether a snapshot in the source account is this operation's shareable copy (name aside): its three tags. */
export function isOperationsShareCopy(tags: Tag[] | undefined, config: PipelineConfig, operationId: string): boolean {
  return isFromOperation(tags, config, operationId)
    && tagValue(tags, PipelineTag.SHARE_OF) === config.sourceClusterIdentifier.toLowerCase();
}

/** Why a snapshot named like this operation's shareable copy is not it, naming its tags. */
export function notOursReason(copyId: string, region: string, source: SourceAccount, tags: Tag[] | undefined): string {
  return `Snapshot ${copyId} in account ${source.account} (${region}) does not carry this operation's tags (`
    + `${PipelineTag.PIPELINE}='${tagValue(tags, PipelineTag.PIPELINE) ?? ''}', ${PipelineTag.OPERATION_ID}='${tagValue(tags, PipelineTag.OPERATION_ID) ?? ''}', `
    + `${PipelineTag.SHARE_OF}='${tagValue(tags, PipelineTag.SHARE_OF) ?? ''}'), so it was left untouched.`;
}

/** The accounts a snapshot is shared with (its `restore` attribute). */
async function sharedWith(client: RDSClient, copyId: string): Promise<string[]> {
  const out = await client.send(new DescribeDBClusterSnapshotAttributesCommand({ DBClusterSnapshotIdentifier: copyId }));
  const attribute = out.DBClusterSnapshotAttributesResult?.DBClusterSnapshotAttributes?.find((a) => a.AttributeName === RESTORE_ATTRIBUTE);
  return attribute?.AttributeValues ?? [];
}

/**
 * Shares the (available) shareable copy with the pipeline's account, once: a copy already shared with it is left as
 * it is. RDS's limit of 20 accounts per snapshot is SnapshotShareQuotaExceeded.
 * @returns whether this call added the share
 */
export async function shareWithPipeline(client: RDSClient, copyId: string, source: SourceAccount, region: string): Promise<boolean> {
  const where = `snapshot ${copyId} in account ${source.account} (${region})`;
  try {
    if ((await sharedWith(client, copyId)).includes(source.pipelineAccount)) return false;
    await client.send(new ModifyDBClusterSnapshotAttributeCommand({
      DBClusterSnapshotIdentifier: copyId,
      AttributeName: RESTORE_ATTRIBUTE,
      ValuesToAdd: [source.pipelineAccount],
    }));
    return true;
  } catch (err) {
    if (isFault(err, 'SharedSnapshotQuotaExceededFault') || isFault(err, 'SharedSnapshotQuotaExceeded')) {
      throw errors.snapshotShareQuotaExceeded(`Cannot share ${where} with the pipeline's account ${source.pipelineAccount}: RDS shares a manual `
        + `snapshot with at most 20 accounts, and this one is at the limit (${(err as Error).message}). It is a copy this pipeline made, so `
        + `another account was added by hand: remove it (aws rds modify-db-cluster-snapshot-attribute --db-cluster-snapshot-identifier ${copyId} `
        + `--attribute-name restore --values-to-remove <account> --region ${region}, in account ${source.account}), then start the restore again.`);
    }
    throw mapAwsError(err, `Sharing ${where} with account ${source.pipelineAccount}`);
  }
}

/** What {@link releaseShareCopy} did. */
export interface ShareReleaseOutcome {
  /**
   * `deleted` (now, or RDS was already deleting it), `absent` (no such snapshot: never made, or already gone), or
   * `untouched` (not this operation's copy: `reason` says why; nothing was changed).
   */
  readonly action: 'deleted' | 'absent' | 'untouched';
  readonly snapshotIdentifier: string;
  /** The copy's status as RDS described it, when found. */
  readonly status?: string;
  /** For `deleted`: RDS was already deleting it. */
  readonly alreadyDeleting?: boolean;
  /** Whether this call removed the pipeline's account from the share. */
  readonly unshared?: boolean;
  /** For `untouched`: what is wrong. */
  readonly reason?: string;
}

/** What {@link releaseShareCopy} should release. */
export interface ShareReleaseOptions {
  /** An RDS client of the pipeline's region acting as the source account's role. */
  readonly client: RDSClient;
  readonly config: PipelineConfig;
  readonly source: SourceAccount;
  readonly operationId: string;
  /**
   * The copy identifier the state names (`$.copy.snapshotIdentifier`); anything but this operation's name is refused
   * without a call.
   * @default - this operation's shareable copy name
   */
  readonly claimedIdentifier?: string;
}

/**
 * Releases the operation's shareable copy in the source account: removes the pipeline's account from its share, then
 * deletes it (a copy still `copying` is deleted too: RDS cancels the copy). Only the snapshot named
 * `shareSnapshotIdentifier(target, operationId)` with this operation's tags. Converges: a copy already gone is `absent`,
 * one being deleted is `deleted`. AWS errors are thrown as mapped pipeline errors.
 */
export async function releaseShareCopy(opts: ShareReleaseOptions): Promise<ShareReleaseOutcome> {
  const { client, config, source, operationId } = opts;
  const region = config.targetRegion;
  const expected = shareSnapshotIdentifier(config.targetClusterIdentifier, operationId);
  const copyId = opts.claimedIdentifier ?? expected;
  if (copyId !== expected) {
    return { action: 'untouched', snapshotIdentifier: copyId, reason: `Refusing to touch snapshot ${copyId}: this operation's shareable copy is named ${expected}.` };
  }
  const where = `shareable copy ${copyId} in account ${source.account} (${region})`;
  let copy: DBClusterSnapshot | undefined;
  let tags: Tag[] | undefined;
  try {
    copy = await describeClusterSnapshot(client, copyId, region);
    if (!copy) return { action: 'absent', snapshotIdentifier: copyId };
    if (copy.DBClusterSnapshotIdentifier !== undefined && !sameRdsIdentifier(copy.DBClusterSnapshotIdentifier, copyId)) {
      return { action: 'untouched', snapshotIdentifier: copyId, status: copy.Status, reason: `Asked for snapshot ${copyId} in account ${source.account}, RDS described ${copy.DBClusterSnapshotIdentifier}; neither was touched.` };
    }
    tags = await tagsOf(client, copy, copy.DBClusterSnapshotArn, region);
  } catch (err) {
    throw mapAwsError(err, `Reading ${where}`);
  }
  const status = copy.Status;
  if (!isOperationsShareCopy(tags, config, operationId)) {
    return { action: 'untouched', snapshotIdentifier: copyId, status, reason: notOursReason(copyId, region, source, tags) };
  }
  if (status === 'deleting') return { action: 'deleted', snapshotIdentifier: copyId, status, alreadyDeleting: true };
  let unshared = false;
  // Only an available snapshot has a share to remove (RDS refuses attribute changes while it is copying).
  if (status === 'available') {
    try {
      if ((await sharedWith(client, copyId)).includes(source.pipelineAccount)) {
        await client.send(new ModifyDBClusterSnapshotAttributeCommand({
          DBClusterSnapshotIdentifier: copyId, AttributeName: RESTORE_ATTRIBUTE, ValuesToRemove: [source.pipelineAccount],
        }));
        unshared = true;
      }
    } catch (err) {
      if (isFault(err, 'DBClusterSnapshotNotFoundFault')) return { action: 'absent', snapshotIdentifier: copyId, status };
      throw mapAwsError(err, `Removing account ${source.pipelineAccount} from the share of ${where}`);
    }
  }
  try {
    await client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: copyId }));
  } catch (err) {
    if (!isFault(err, 'DBClusterSnapshotNotFoundFault')) throw mapAwsError(err, `Deleting ${where}${status ? ` (status '${status}')` : ''}`);
  }
  return { action: 'deleted', snapshotIdentifier: copyId, status, unshared };
}

/** The AWS CLI commands that remove what an operation left in the source account, to run there by hand. */
export function manualReleaseCommands(copyId: string, source: SourceAccount, region: string): string {
  return `in account ${source.account}: aws rds modify-db-cluster-snapshot-attribute --db-cluster-snapshot-identifier ${copyId} `
    + `--attribute-name restore --values-to-remove ${source.pipelineAccount} --region ${region}; then aws rds delete-db-cluster-snapshot `
    + `--db-cluster-snapshot-identifier ${copyId} --region ${region}`;
}
