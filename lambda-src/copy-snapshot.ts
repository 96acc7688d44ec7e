/*
 * CopySnapshot: starts the copy of the source snapshot into the target region, re-encrypted with the
 * pipeline's copy key, and starts the copy wait loop (`$.copy`).
 *
 * Called twice (a retry, or a timeout after RDS accepted the copy): the copy already exists with this
 * operation's tags, so it is adopted and its current status reported; no second copy is started. A copy
 * with that name that is not this operation's (or not of this snapshot) is never adopted.
 *
 * Across accounts (`sourceRoleArn`), always, even in one region (a production snapshot itself is never shared): as
 * the source account's role, the shareable copy `arp-share-<target>-<operation>-<hash>` is made in the source account,
 * in the pipeline's region, re-encrypted with the share key and tagged as this source's, pipeline's and operation's.
 * CheckCopyStatus shares it once it is available.
 */
import { CopyDBClusterSnapshotCommand, DBClusterSnapshot, RDSClient } from '@aws-sdk/client-rds';
import { CopyProgress, PipelineConfig, PipelineState, PipelineTag, STEP_NAMES, WAIT_PHASES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError } from './lib/errors';
import { copySnapshotIdentifier, isFromOperation, mergeTags, ownershipTags, shareSnapshotIdentifier, tagValue, toRdsTags } from './lib/naming';
import { expectedPhase } from './lib/phase-history';
import { describeClusterSnapshot, isFault, percent, tagsOf } from './lib/rds';
import { isOperationsShareCopy, notOursReason } from './lib/share-copy';
import { SourceAccount, sourceAccountOf, sourceRds } from './lib/source-account';
import { runStep, waitOutcome } from './lib/step';
import { progress } from './lib/waits';

export const handler = async (state: PipelineState): Promise<CopyProgress> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.copySnapshot, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    if (!state.copyRequired) {
      throw errors.invalidInput(`Operation ${state.operationId} restores in the source region and needs no copy, yet CopySnapshot ran. The state machine definition is inconsistent: redeploy the pipeline and start the restore again.`);
    }
    const source = sourceAccountOf(config);
    const client = source ? await sourceRds(config, source, state.operationId) : rds(config.targetRegion);
    const copyId = source
      ? shareSnapshotIdentifier(config.targetClusterIdentifier, state.operationId)
      : copySnapshotIdentifier(config.targetClusterIdentifier, state.operationId);
    const copyKeyArn = source ? source.shareKeyArn : config.snapshotCopyKeyArn;
    const where = source ? `account ${source.account} (${config.targetRegion})` : config.targetRegion;
    if (source && !state.snapshot.storageEncrypted) throw unencrypted(state, source);
    const assertOurs = source ? assertShareCopyOurs(client, source) : assertCopyOurs;

    let copy = await describeClusterSnapshot(client, copyId, config.targetRegion);
    if (copy) {
      await assertOurs(copy, copyId, config, state);
      log.info('snapshot copy already exists for this operation; adopting it', { snapshotIdentifier: copyId, status: copy.Status });
    } else {
      try {
        const out = await client.send(new CopyDBClusterSnapshotCommand({
          // The SDK presigns the request for the source region, taken from this ARN.
          SourceDBClusterSnapshotIdentifier: state.snapshot.arn,
          TargetDBClusterSnapshotIdentifier: copyId,
          // RDS refuses a KmsKeyId for an unencrypted snapshot: its copy stays unencrypted, and the restore encrypts.
          ...(state.snapshot.storageEncrypted ? { KmsKeyId: copyKeyArn } : {}),
          // The source's own tags stay in the source account: a shareable copy carries only what names its purpose.
          CopyTags: !source,
          Tags: source
            ? [
              ...ownershipTags(config, state.operationId, state.snapshot.identifier),
              { Key: PipelineTag.SHARE_OF, Value: config.sourceClusterIdentifier.toLowerCase() },
            ]
            : mergeTags(toRdsTags(config.tags), ownershipTags(config, state.operationId, state.snapshot.identifier)),
        }));
        copy = out.DBClusterSnapshot;
      } catch (err) {
        if (!isFault(err, 'DBClusterSnapshotAlreadyExistsFault')) {
          throw mapAwsError(err, `Copying snapshot ${state.snapshot.arn} to ${copyId} in ${where}`);
        }
        // A concurrent attempt won the race: adopt its copy only if it is ours.
        copy = await describeClusterSnapshot(client, copyId, config.targetRegion);
        if (!copy) {
          throw errors.resourceBusy(`RDS reported snapshot ${copyId} as existing but cannot describe it yet in ${where}. The step is retried.`);
        }
        await assertOurs(copy, copyId, config, state);
      }
    }

    const status = copy?.Status ?? 'creating';
    if (status === 'failed' || status === 'deleting') {
      throw errors.snapshotCopyFailed(`Snapshot copy ${copyId} in ${where} is '${status}'. Delete it if it remains, check the copy key ${copyKeyArn} and the source snapshot, then start the restore again.`);
    }
    const done = status === 'available';
    const expected = done ? undefined : await expectedPhase(WAIT_PHASES.copy, log);
    const what = `the copy of ${state.snapshot.identifier} to ${copyId}`;
    const result: CopyProgress = {
      ...progress({ done, status, percentProgress: percent(copy?.PercentProgress) }, undefined, config.waits, what, new Date(), { expected }),
      snapshotIdentifier: copyId,
      snapshotArn: copy?.DBClusterSnapshotArn ?? '',
      kmsKeyId: copy?.KmsKeyId ?? (state.snapshot.storageEncrypted ? copyKeyArn : ''),
    };
    return {
      result,
      outcome: waitOutcome(done),
      details: {
        snapshotIdentifier: copyId,
        sourceSnapshotArn: state.snapshot.arn,
        status,
        kmsKeyId: result.kmsKeyId,
        ...(source ? { account: source.account } : {}),
      },
    };
  });
};

/** An existing copy is adopted only if this pipeline made it for this operation from this snapshot. */
async function assertCopyOurs(copy: DBClusterSnapshot, copyId: string, config: PipelineConfig, state: PipelineState): Promise<void> {
  const tags = await tagsOf(rds(config.targetRegion), copy, copy.DBClusterSnapshotArn, config.targetRegion);
  const fromSnapshot = tagValue(tags, PipelineTag.SOURCE_SNAPSHOT);
  if (!isFromOperation(tags, config, state.operationId) || (fromSnapshot !== undefined && fromSnapshot !== state.snapshot.identifier)) {
    throw errors.snapshotCopyFailed(`A snapshot named ${copyId} already exists in ${config.targetRegion} but was not made by this operation from snapshot ${state.snapshot.identifier} (tags ${PipelineTag.OPERATION_ID}='${tagValue(tags, PipelineTag.OPERATION_ID) ?? ''}', ${PipelineTag.SOURCE_SNAPSHOT}='${fromSnapshot ?? ''}'). It is left untouched. Delete or rename it, or start the restore with a new operationId.`);
  }
}

/** Across accounts: an existing shareable copy is adopted only if it carries this operation's and this source's tags. */
function assertShareCopyOurs(client: RDSClient, source: SourceAccount) {
  return async (copy: DBClusterSnapshot, copyId: string, config: PipelineConfig, state: PipelineState): Promise<void> => {
    const tags = await tagsOf(client, copy, copy.DBClusterSnapshotArn, config.targetRegion);
    const fromSnapshot = tagValue(tags, PipelineTag.SOURCE_SNAPSHOT);
    if (!isOperationsShareCopy(tags, config, state.operationId) || (fromSnapshot !== undefined && fromSnapshot !== state.snapshot.identifier)) {
      throw errors.snapshotCopyFailed(`${notOursReason(copyId, config.targetRegion, source, tags)} It is not this operation's copy of snapshot ${state.snapshot.identifier}. `
        + 'Find out who made it and delete or rename it in the source account, or start the restore with a new operationId.');
    }
  };
}

/** An unencrypted source snapshot is never copied across accounts (SnapshotCheck refuses it first). */
function unencrypted(state: PipelineState, source: SourceAccount): Error {
  return errors.sourceSnapshotUnencrypted(`Snapshot ${state.snapshot.identifier} in account ${source.account} is not encrypted: its shareable copy could not be `
    + 'encrypted with the share key and could be shared with any account. Encrypt the source cluster (restore it from an encrypted copy of '
    + 'one of its snapshots), then start the restore again.');
}
