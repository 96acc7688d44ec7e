/*
 * Final snapshots: the snapshot DeleteRds takes of the target before deleting it, and their retention. A final
 * snapshot counts as this pipeline's only when it carries this pipeline's ownership tag AND the final-snapshot tag
 * naming the operation that took it AND has exactly the name naming.ts gives that operation's final snapshot; the
 * retention (`finalSnapshotsToKeep`) keeps the newest N of those and deletes older ones, never anything else.
 */
import { AddTagsToResourceCommand, DBClusterSnapshot, DeleteDBClusterSnapshotCommand, paginateDescribeDBClusterSnapshots, RDSClient } from '@aws-sdk/client-rds';
import { mapAwsError } from './errors';
import { finalSnapshotIdentifier, sameRdsIdentifier, tagValue } from './naming';
import { describeClusterSnapshot, isFault, tagsOf } from './rds';
import { PipelineConfig, PipelineTag } from '../../src/contracts';
import { previousClusterIdentifier } from '../../src/names';

/** The tags that mark a final snapshot as this pipeline's, taken by `operationId`. */
export function finalSnapshotTags(config: PipelineConfig, operationId: string) {
  return [{ Key: PipelineTag.PIPELINE, Value: config.pipelineId }, { Key: PipelineTag.FINAL_SNAPSHOT, Value: operationId }];
}

/**
 * Whether an existing snapshot with the final-snapshot name of `operationId` is that operation's own (a retry),
 * rather than someone else's snapshot that happens to have the name.
 */
export async function isOwnFinalSnapshot(
  client: RDSClient, snapshot: DBClusterSnapshot, config: PipelineConfig, operationId: string, region: string,
): Promise<boolean> {
  const tags = await tagsOf(client, snapshot, snapshot.DBClusterSnapshotArn, region);
  return tagValue(tags, PipelineTag.PIPELINE) === config.pipelineId && tagValue(tags, PipelineTag.FINAL_SNAPSHOT) === operationId;
}

/** Tags the final snapshot the delete just took as this pipeline's (RDS copies the cluster's tags only with CopyTagsToSnapshot). */
export async function tagFinalSnapshot(client: RDSClient, config: PipelineConfig, operationId: string, region: string): Promise<boolean> {
  const id = finalSnapshotIdentifier(config.targetClusterIdentifier, operationId);
  const snapshot = await describeClusterSnapshot(client, id, region);
  if (!snapshot?.DBClusterSnapshotArn) return false;
  try {
    await client.send(new AddTagsToResourceCommand({ ResourceName: snapshot.DBClusterSnapshotArn, Tags: finalSnapshotTags(config, operationId) }));
  } catch (err) {
    throw mapAwsError(err, `Tagging final snapshot ${id} in ${region} as this pipeline's`);
  }
  return true;
}

/**
 * Deletes this pipeline's final snapshots of the target beyond the newest `config.finalSnapshotsToKeep` (the one
 * just taken counts). Returns the identifiers deleted. Snapshots without both tags, or whose name is not the
 * final-snapshot name of the operation their tag names, are never touched.
 */
export async function pruneFinalSnapshots(client: RDSClient, config: PipelineConfig, region: string): Promise<string[]> {
  const target = config.targetClusterIdentifier;
  const ours: DBClusterSnapshot[] = [];
  try {
    // A swap retires the previous target under its new name: its final snapshots name that cluster.
    for (const cluster of [target, previousClusterIdentifier(target)]) {
      for await (const page of paginateDescribeDBClusterSnapshots({ client }, { DBClusterIdentifier: cluster, SnapshotType: 'manual' })) {
        for (const s of page.DBClusterSnapshots ?? []) {
          if (!s.DBClusterSnapshotIdentifier || !s.SnapshotCreateTime) continue;
          const tags = await tagsOf(client, s, s.DBClusterSnapshotArn, region);
          const takenBy = tagValue(tags, PipelineTag.FINAL_SNAPSHOT);
          if (tagValue(tags, PipelineTag.PIPELINE) !== config.pipelineId || !takenBy) continue;
          if (!sameRdsIdentifier(s.DBClusterSnapshotIdentifier, finalSnapshotIdentifier(target, takenBy))) continue;
          ours.push(s);
        }
      }
    }
  } catch (err) {
    throw mapAwsError(err, `Listing the final snapshots of ${target} in ${region}`);
  }
  ours.sort((a, b) => b.SnapshotCreateTime!.getTime() - a.SnapshotCreateTime!.getTime());
  const deleted: string[] = [];
  for (const old of ours.slice(Math.max(1, config.finalSnapshotsToKeep))) {
    if (old.Status === 'deleting') continue;
    try {
      await client.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: old.DBClusterSnapshotIdentifier }));
    } catch (err) {
      if (!isFault(err, 'DBClusterSnapshotNotFoundFault')) throw mapAwsError(err, `Deleting old final snapshot ${old.DBClusterSnapshotIdentifier} in ${region}`);
    }
    deleted.push(old.DBClusterSnapshotIdentifier!);
  }
  return deleted;
}
