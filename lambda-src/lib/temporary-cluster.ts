/*
 * Settling a swap's temporary cluster after a run failed or was stopped before its cutover: the target was never
 * touched, so the temporary cluster `arp-tmp-<target>-<hash>` of the operation is deleted (instances, then the
 * cluster, without a final snapshot: it holds nothing the snapshot does not), or kept and tagged for inspection
 * (`retainFailedRestore`). Used by the failure notification and by the settlement of a stopped execution; the
 * caller checks that it holds the lock.
 *
 * Only the cluster with this operation's temporary name and this operation's tags is touched. After a cutover the
 * name is gone (the cluster became the target), so nothing happens. While the previous target is still renamed
 * away by this operation, or no cluster carries the target's identifier (a cutover that failed and could not be
 * rolled back), the temporary cluster is kept: finishing the swap by hand may need it, and the cutover's error says
 * what to do.
 */
import { AddTagsToResourceCommand, DeleteDBClusterCommand, DeleteDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { rds } from './clients';
import { mapAwsError } from './errors';
import { isFromOperation, tagValue, temporaryClusterIdentifier } from './naming';
import { describeCluster, describeInstance, isFault, tagsOf } from './rds';
import { PipelineConfig, PipelineTag } from '../../src/contracts';
import { previousClusterIdentifier } from '../../src/names';

/** What happened to the temporary cluster (the notification's `temporaryCluster`). */
export interface TemporaryClusterSettlement {
  /** The temporary cluster's identifier. */
  readonly identifier: string;
  /** `deleted`, `retained`, `none` (no such cluster), `untouched` (not this operation's, or kept on purpose) or `failed`. */
  readonly action: string;
  /** What was done, in a sentence. */
  readonly detail: string;
  /**
   * What the operator should do.
   * @default - nothing
   */
  readonly advice?: string;
  /**
   * The error name, for action `failed`.
   * @default - none
   */
  readonly errorName?: string;
}

/** Deletes (or retains and tags) the operation's temporary cluster. Throws only AWS errors, mapped. */
export async function settleTemporaryCluster(config: PipelineConfig, operationId: string): Promise<TemporaryClusterSettlement> {
  const region = config.targetRegion;
  const identifier = temporaryClusterIdentifier(config.targetClusterIdentifier, operationId);
  const client = rds(region);
  const cluster = await describeCluster(client, identifier, region);
  if (!cluster) return { identifier, action: 'none', detail: `No temporary cluster ${identifier} exists in ${region}: it was never made, is already deleted, or became the target.` };
  const tags = await tagsOf(client, cluster, cluster.DBClusterArn, region);
  if (!isFromOperation(tags, config, operationId)) {
    return { identifier, action: 'untouched', detail: `Cluster ${identifier} in ${region} does not carry this operation's tags; it was left alone.`, advice: 'Find out who made it.' };
  }
  const renamedAway = await describeCluster(client, previousClusterIdentifier(config.targetClusterIdentifier), region);
  const awayTags = renamedAway ? await tagsOf(client, renamedAway, renamedAway.DBClusterArn, region) : undefined;
  const stillAway = renamedAway && tagValue(awayTags, PipelineTag.PREVIOUS_TARGET) === operationId;
  if (stillAway || !(await describeCluster(client, config.targetClusterIdentifier, region))) {
    return {
      identifier,
      action: 'untouched',
      detail: stillAway
        ? `The previous target is still renamed away (${renamedAway!.DBClusterIdentifier}), so the temporary cluster ${identifier} was kept: finishing the swap by hand may need it.`
        : `No cluster is named ${config.targetClusterIdentifier} in ${region}, so the temporary cluster ${identifier} was kept: it may hold the only restored copy.`,
      advice: 'Follow the error\'s advice to give the target identifier back to a cluster, then delete whichever cluster you no longer need.',
    };
  }
  if (config.retainFailedRestore) {
    if (tagValue(tags, PipelineTag.FAILED_RESTORE) !== 'true') {
      await call(`Tagging temporary cluster ${identifier} in ${region} as a failed restore`, () => client.send(new AddTagsToResourceCommand({
        ResourceName: cluster.DBClusterArn, Tags: [{ Key: PipelineTag.FAILED_RESTORE, Value: 'true' }],
      })));
    }
    return {
      identifier,
      action: 'retained',
      detail: `Kept the temporary cluster ${identifier} in ${region} (retainFailedRestore) and tagged it ${PipelineTag.FAILED_RESTORE}=true. The target was not touched.`,
      advice: `It costs like any cluster: delete it (its instances first) when you have inspected it: aws rds delete-db-cluster --db-cluster-identifier ${identifier} --skip-final-snapshot.`,
    };
  }
  const instances = await deleteInstances(client, config, cluster.DBClusterMembers?.map((m) => m.DBInstanceIdentifier ?? '') ?? [], region);
  if (cluster.Status !== 'deleting') {
    try {
      await client.send(new DeleteDBClusterCommand({ DBClusterIdentifier: identifier, SkipFinalSnapshot: true }));
    } catch (err) {
      if (!isFault(err, 'DBClusterNotFoundFault')) throw mapAwsError(err, `Deleting temporary cluster ${identifier} in ${region}`);
    }
  }
  return {
    identifier,
    action: 'deleted',
    detail: `Deleted the temporary cluster ${identifier} in ${region}${instances.length ? ` and its instance${instances.length > 1 ? 's' : ''} ${instances.join(', ')}` : ''}, without a final snapshot. The target was not touched.`,
  };
}

/** Deletes the owned member instances not yet going away; returns the ones asked for. */
async function deleteInstances(client: RDSClient, config: PipelineConfig, ids: string[], region: string): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids.filter((i) => i !== '')) {
    const instance = await describeInstance(client, id, region);
    if (!instance) continue;
    const tags = await tagsOf(client, instance, instance.DBInstanceArn, region);
    if (tagValue(tags, PipelineTag.PIPELINE) !== config.pipelineId) continue; // not ours: RDS then refuses the cluster's delete, reported
    if (instance.DBInstanceStatus !== 'deleting') {
      try {
        await client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id }));
      } catch (err) {
        if (!isFault(err, 'DBInstanceNotFoundFault')) throw mapAwsError(err, `Deleting instance ${id} of the temporary cluster in ${region}`);
      }
    }
    out.push(id);
  }
  return out;
}

async function call(context: string, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (err) {
    throw mapAwsError(err, context);
  }
}
