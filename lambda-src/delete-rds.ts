/*
 * DeleteRds: deletes the target cluster the pipeline owns, and is its own status check (`$.delete`):
 * the state machine calls it again after each wait until it reports done.
 *
 * Every call re-verifies from RDS, never from the preflight: the target must not be the source cluster
 * and must carry this pipeline's tag (or assumeTargetOwned). Each call then does the next thing the
 * cluster needs: turn off deletion protection (if allowed), delete the instances, delete the cluster,
 * or just report 'deleting'. Called twice, it therefore converges: requests already made show up in
 * RDS's state and are not repeated (an instance already deleting is skipped), and once RDS says
 * DBClusterNotFoundFault it reports done ('deleted', or 'absent' if there was nothing to delete).
 */
import { DBCluster, DeleteDBClusterCommand, DeleteDBInstanceCommand, ModifyDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { DeleteProgress, PipelineState, PipelineTag, STEP_NAMES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError } from './lib/errors';
import { finalSnapshotIdentifier, isOwnedByPipeline, sameRdsIdentifier, tagValue } from './lib/naming';
import { describeCluster, isFault, tagsOf } from './lib/rds';
import { Logger, runStep, waitOutcome } from './lib/step';
import { progress } from './lib/waits';

export const handler = async (state: PipelineState): Promise<DeleteProgress> => {
  const config = loadConfig();
  return runStep({ step: STEP_NAMES.deleteRds, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true }, async ({ log }) => {
    const target = config.targetClusterIdentifier;
    const region = config.targetRegion;
    const previous = state.delete;
    if (sameRdsIdentifier(target, config.sourceClusterIdentifier) && region === config.sourceRegion) {
      throw errors.sourceClusterProtected(`Refusing to delete cluster ${target} in ${region}: it is the pipeline's source cluster. Configure a different target cluster identifier or target region.`);
    }
    const finalSnapshot = config.finalSnapshotOnDelete ? finalSnapshotIdentifier(target, state.operationId) : undefined;
    const what = `the deletion of cluster ${target} in ${region}`;
    const report = (done: boolean, status: string, existed: boolean) => {
      const result: DeleteProgress = {
        ...progress({ done, status }, previous, config.waits, what),
        targetExisted: existed || (previous?.targetExisted ?? false),
        ...(finalSnapshot && (existed || previous?.targetExisted) ? { finalSnapshotIdentifier: finalSnapshot } : {}),
      };
      return {
        result,
        outcome: waitOutcome(done),
        details: {
          targetClusterIdentifier: target,
          status,
          attempt: result.attempt,
          targetExisted: result.targetExisted,
          finalSnapshotIdentifier: result.finalSnapshotIdentifier,
        },
      };
    };

    const client = rds(region);
    const cluster = await describeCluster(client, target, region);
    if (!cluster) {
      return report(true, previous ? 'deleted' : 'absent', false);
    }
    const tags = await tagsOf(client, cluster, cluster.DBClusterArn, region);
    if (!isOwnedByPipeline(tags, config)) {
      const owner = tagValue(tags, PipelineTag.PIPELINE);
      throw errors.targetNotOwned(`Refusing to delete cluster ${target} in ${region}: its tag ${PipelineTag.PIPELINE} is ${owner ? `'${owner}'` : 'missing'}, expected '${config.pipelineId}'. Tag it with ${PipelineTag.PIPELINE}=${config.pipelineId} if the pipeline may replace it, or set assumeTargetOwned.`);
    }
    const status = cluster.Status ?? 'unknown';
    if (status === 'deleting') return report(false, 'deleting', true);

    if (cluster.DeletionProtection) {
      if (!config.allowDisableDeletionProtection) {
        throw errors.deletionProtected(`Cluster ${target} in ${region} has deletion protection on, and the pipeline may not turn it off. Turn it off yourself (aws rds modify-db-cluster --db-cluster-identifier ${target} --no-deletion-protection --apply-immediately), or set allowDisableDeletionProtection on the pipeline, then start the restore again.`);
      }
      const ok = await busyTolerant(log, `Turning off deletion protection of cluster ${target} in ${region}`,
        () => client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: target, DeletionProtection: false, ApplyImmediately: true })));
      return report(false, ok ? 'disabling-deletion-protection' : status, true);
    }

    const members = cluster.DBClusterMembers ?? [];
    if (members.length > 0) {
      await deleteInstances(client, cluster, region, log);
      return report(false, 'deleting-instances', true);
    }

    try {
      await client.send(new DeleteDBClusterCommand({
        DBClusterIdentifier: target,
        ...(finalSnapshot ? { FinalDBSnapshotIdentifier: finalSnapshot, SkipFinalSnapshot: false } : { SkipFinalSnapshot: true }),
      }));
    } catch (err) {
      if (isFault(err, 'DBClusterNotFoundFault')) return report(true, 'deleted', true);
      if (isFault(err, 'InvalidDBClusterStateFault')) {
        log.info('cluster busy; deleting it on the next check', { status, errorMessage: (err as Error).message });
        return report(false, status, true);
      }
      if (isFault(err, 'DBClusterSnapshotAlreadyExistsFault')) {
        throw errors.invalidInput(`Cannot take the final snapshot ${finalSnapshot} of cluster ${target}: a snapshot with that name already exists in ${region} (an earlier operation used the same operationId). Start the restore with a new operationId, or delete or rename that snapshot.`);
      }
      throw mapAwsError(err, `Deleting cluster ${target} in ${region}${finalSnapshot ? ` with final snapshot ${finalSnapshot}` : ''}`);
    }
    log.info('cluster deletion requested', { targetClusterIdentifier: target, finalSnapshotIdentifier: finalSnapshot });
    return report(false, 'deleting', true);
  });
};

/** Deletes every instance of the cluster that is not already going away. */
async function deleteInstances(client: RDSClient, cluster: DBCluster, region: string, log: Logger): Promise<void> {
  for (const member of cluster.DBClusterMembers ?? []) {
    const id = member.DBInstanceIdentifier;
    if (!id) continue;
    try {
      await client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id }));
      log.info('instance deletion requested', { instanceIdentifier: id });
    } catch (err) {
      // Already gone or already deleting: both are what we asked for. Busy: retried on the next check.
      if (isFault(err, 'DBInstanceNotFoundFault', 'InvalidDBInstanceStateFault')) {
        log.info('instance not deleted now', { instanceIdentifier: id, errorName: (err as Error).name });
        continue;
      }
      throw mapAwsError(err, `Deleting instance ${id} of cluster ${cluster.DBClusterIdentifier} in ${region}`);
    }
  }
}

/** Runs a modification; a cluster busy with another change is not an error here, the loop comes back. */
async function busyTolerant(log: Logger, context: string, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    if (isFault(err, 'InvalidDBClusterStateFault')) {
      log.info('cluster busy; trying again on the next check', { context });
      return false;
    }
    throw mapAwsError(err, context);
  }
}
