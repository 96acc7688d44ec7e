/*
 * DeleteRds: deletes the target cluster the pipeline owns, and is its own status check (`$.delete`):
 * the state machine calls it again after each wait until it reports done.
 *
 * Every call re-verifies from RDS, never from the preflight: the target must not be the source cluster
 * and must carry this pipeline's tag (or assumeTargetOwned). Before the first change it checks everything
 * that can refuse the delete: deletion protection allowed, the final snapshot's name free (or this
 * operation's), no instance someone else added. Each call then does the next thing the cluster needs:
 * start it if stopped (RDS deletes no stopped cluster) and wait, tag it and its instances as owned
 * (assumeTargetOwned), turn off deletion protection (if allowed), delete the instances, delete the cluster,
 * or just report 'deleting'. Once it is gone, the final snapshot is tagged as this pipeline's and older
 * final snapshots of this pipeline beyond `finalSnapshotsToKeep` are deleted (lib/final-snapshots). Called twice, it therefore converges: requests already made show up in
 * RDS's state and are not repeated (an instance already deleting is skipped), and once RDS says
 * DBClusterNotFoundFault it reports done ('deleted', or 'absent' if there was nothing to delete).
 */
import {
  AddTagsToResourceCommand,
  DBCluster,
  DBInstance,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  ModifyDBClusterCommand,
  RDSClient,
  StartDBClusterCommand,
  Tag,
} from '@aws-sdk/client-rds';
import { DeleteProgress, PipelineState, PipelineTag, STEP_NAMES, WAIT_PHASES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError } from './lib/errors';
import { isOwnFinalSnapshot, pruneFinalSnapshots, tagFinalSnapshot } from './lib/final-snapshots';
import { finalSnapshotIdentifier, isOwnedByPipeline, sameRdsIdentifier, tagValue } from './lib/naming';
import { expectedPhase, recordPhase } from './lib/phase-history';
import { describeCluster, describeClusterSnapshot, describeInstance, isFault, tagsOf } from './lib/rds';
import { Logger, runStep, waitOutcome } from './lib/step';
import { phaseSeconds, progress } from './lib/waits';

export const handler = async (state: PipelineState): Promise<DeleteProgress> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.deleteRds, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    const target = config.targetClusterIdentifier;
    const region = config.targetRegion;
    const previous = state.delete;
    if (sameRdsIdentifier(target, config.sourceClusterIdentifier) && region === config.sourceRegion) {
      throw errors.sourceClusterProtected(`Refusing to delete cluster ${target} in ${region}: it is the pipeline's source cluster. Configure a different target cluster identifier or target region.`);
    }
    const finalSnapshot = config.finalSnapshotOnDelete ? finalSnapshotIdentifier(target, state.operationId) : undefined;
    const what = `the deletion of cluster ${target} in ${region}`;
    const now = new Date();
    const expected = previous ? undefined : await expectedPhase(WAIT_PHASES.delete, log);
    // A deletion the loop waited for goes into the target's history (once per operation).
    const recordDeleted = async () => {
      const seconds = previous?.targetExisted ? phaseSeconds(previous, now) : undefined;
      if (seconds !== undefined) await recordPhase(WAIT_PHASES.delete, state.operationId, seconds, log, now);
    };
    const report = (done: boolean, status: string, existed: boolean) => {
      const result: DeleteProgress = {
        ...progress({ done, status }, previous, config.waits, what, now, { expected }),
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
      const existed = previous?.targetExisted ?? false;
      const deletedOld = existed && finalSnapshot ? await settleFinalSnapshots(client, state.operationId, region, log) : [];
      await recordDeleted();
      const done = report(true, previous ? 'deleted' : 'absent', false);
      return deletedOld.length > 0
        ? { ...done, result: { ...done.result, finalSnapshotsDeleted: deletedOld }, details: { ...done.details, finalSnapshotsDeleted: deletedOld } }
        : done;
    }
    const tags = await tagsOf(client, cluster, cluster.DBClusterArn, region);
    if (!isOwnedByPipeline(tags, config)) {
      const owner = tagValue(tags, PipelineTag.PIPELINE);
      throw errors.targetNotOwned(`Refusing to delete cluster ${target} in ${region}: its tag ${PipelineTag.PIPELINE} is ${owner ? `'${owner}'` : 'missing'}, expected '${config.pipelineId}'. Tag it with ${PipelineTag.PIPELINE}=${config.pipelineId} if the pipeline may replace it, or set assumeTargetOwned.`);
    }
    const status = cluster.Status ?? 'unknown';
    if (status === 'deleting') return report(false, 'deleting', true);

    // Everything that can refuse the delete is checked before the first change, so a refusal leaves the target whole.
    if (cluster.DeletionProtection && !config.allowDisableDeletionProtection) {
      throw errors.deletionProtected(`Cluster ${target} in ${region} has deletion protection on, and the pipeline may not turn it off. Turn it off yourself (aws rds modify-db-cluster --db-cluster-identifier ${target} --no-deletion-protection --apply-immediately), or set allowDisableDeletionProtection on the pipeline, then start the restore again.`);
    }
    if (finalSnapshot) await assertFinalSnapshotNameFree(client, finalSnapshot, state.operationId, region);
    const instances = await memberInstances(client, cluster, region);

    // RDS neither deletes nor modifies a stopped cluster (or its instances): start it, and wait until it is available.
    if (status === 'stopped') {
      const ok = await busyTolerant(log, `Starting the stopped cluster ${target} in ${region} so that it can be deleted`,
        () => client.send(new StartDBClusterCommand({ DBClusterIdentifier: target })));
      if (ok) log.info('target cluster was stopped; starting it before deleting it', { targetClusterIdentifier: target });
      return report(false, 'starting', true);
    }
    if (STARTING_STATES.has(status)) return report(false, status, true);

    if (config.assumeTargetOwned) await claimOwnership(client, cluster, instances, config.pipelineId, region, log);

    // The final snapshot must carry the cluster's ownership tag (CopyTagsToSnapshot): IAM lets the pipeline mark and
    // later delete only final snapshots that carry it.
    const copyTags = Boolean(finalSnapshot) && !cluster.CopyTagsToSnapshot;
    if (cluster.DeletionProtection || copyTags) {
      const ok = await busyTolerant(log, `Preparing cluster ${target} in ${region} for deletion (deletion protection off, tags copied to the final snapshot)`,
        () => client.send(new ModifyDBClusterCommand({
          DBClusterIdentifier: target,
          ApplyImmediately: true,
          ...(cluster.DeletionProtection ? { DeletionProtection: false } : {}),
          ...(copyTags ? { CopyTagsToSnapshot: true } : {}),
        })));
      return report(false, ok ? (cluster.DeletionProtection ? 'disabling-deletion-protection' : 'copying-tags-to-final-snapshot') : status, true);
    }

    if (instances.length > 0) {
      await deleteInstances(client, cluster, region, log);
      return report(false, 'deleting-instances', true);
    }

    try {
      await client.send(new DeleteDBClusterCommand({
        DBClusterIdentifier: target,
        ...(finalSnapshot ? { FinalDBSnapshotIdentifier: finalSnapshot, SkipFinalSnapshot: false } : { SkipFinalSnapshot: true }),
      }));
    } catch (err) {
      if (isFault(err, 'DBClusterNotFoundFault')) {
        await recordDeleted();
        return report(true, 'deleted', true);
      }
      if (isFault(err, 'InvalidDBClusterStateFault')) {
        log.info('cluster busy; deleting it on the next check', { status, errorMessage: (err as Error).message });
        return report(false, status, true);
      }
      if (isFault(err, 'DBClusterSnapshotAlreadyExistsFault')) throw finalSnapshotTaken(finalSnapshot!, target, region);
      throw mapAwsError(err, `Deleting cluster ${target} in ${region}${finalSnapshot ? ` with final snapshot ${finalSnapshot}` : ''}`);
    }
    log.info('cluster deletion requested', { targetClusterIdentifier: target, finalSnapshotIdentifier: finalSnapshot });
    return report(false, 'deleting', true);
  });

  /** Once the target is gone: tags the final snapshot it took as this pipeline's, then applies the retention. Never fails the step. */
  async function settleFinalSnapshots(client: RDSClient, operationId: string, region: string, log: Logger): Promise<string[]> {
    try {
      await tagFinalSnapshot(client, config, operationId, region);
      return await pruneFinalSnapshots(client, config, region);
    } catch (err) {
      // The restore goes on; the message says what was left.
      log.warn('final snapshot retention not applied; older final snapshots may remain (delete them by hand, or the next run retries)', {
        errorName: (err as Error)?.name, errorMessage: (err as Error)?.message,
      });
      return [];
    }
  }
};

/** Cluster states on the way from `stopped` to `available`: wait. */
const STARTING_STATES = new Set(['starting', 'stopping']);

function finalSnapshotTaken(finalSnapshot: string, target: string, region: string) {
  return errors.invalidInput(`Cannot take the final snapshot ${finalSnapshot} of cluster ${target}: a snapshot with that name already exists in ${region} and is not this operation's. Nothing was deleted. Start the restore with a new operationId, or delete or rename that snapshot.`);
}

/** The final snapshot's name must be free, or already this operation's (a retry after RDS took it). */
async function assertFinalSnapshotNameFree(client: RDSClient, finalSnapshot: string, operationId: string, region: string): Promise<void> {
  const existing = await describeClusterSnapshot(client, finalSnapshot, region);
  if (existing && !(await isOwnFinalSnapshot(client, existing, loadConfig(), operationId, region))) {
    throw finalSnapshotTaken(finalSnapshot, loadConfig().targetClusterIdentifier, region);
  }
}

/**
 * The cluster's instances, each checked: a member that does not carry this pipeline's tag is someone else's
 * (unless assumeTargetOwned), and the pipeline deletes nothing of a cluster that has one.
 */
async function memberInstances(client: RDSClient, cluster: DBCluster, region: string): Promise<DBInstance[]> {
  const config = loadConfig();
  const out: DBInstance[] = [];
  for (const member of cluster.DBClusterMembers ?? []) {
    if (!member.DBInstanceIdentifier) continue;
    const instance = await describeInstance(client, member.DBInstanceIdentifier, region);
    if (!instance) continue;
    if (!config.assumeTargetOwned) {
      const tags = await tagsOf(client, instance, instance.DBInstanceArn, region);
      if (tagValue(tags, PipelineTag.PIPELINE) !== config.pipelineId) {
        throw errors.targetNotOwned(`Refusing to delete cluster ${cluster.DBClusterIdentifier} in ${region}: its instance ${member.DBInstanceIdentifier} does not carry the tag ${PipelineTag.PIPELINE}=${config.pipelineId}, so someone else added it. Nothing was deleted. Delete that instance (or tag it ${PipelineTag.PIPELINE}=${config.pipelineId} if the pipeline may delete it), then start the restore again.`);
      }
    }
    out.push(instance);
  }
  return out;
}

/**
 * assumeTargetOwned: tags the target and its instances with this pipeline's ownership tag before anything is
 * deleted, so IAM can require that tag on every delete.
 */
async function claimOwnership(
  client: RDSClient, cluster: DBCluster, instances: DBInstance[], pipelineId: string, region: string, log: Logger,
): Promise<void> {
  const resources: Array<[string, string | undefined, { TagList?: Tag[] }]> = [
    [`cluster ${cluster.DBClusterIdentifier}`, cluster.DBClusterArn, cluster],
    ...instances.map((i): [string, string | undefined, { TagList?: Tag[] }] => [`instance ${i.DBInstanceIdentifier}`, i.DBInstanceArn, i]),
  ];
  for (const [what, arn, resource] of resources) {
    if (!arn) continue;
    if (tagValue(await tagsOf(client, resource, arn, region), PipelineTag.PIPELINE) === pipelineId) continue;
    try {
      await client.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: PipelineTag.PIPELINE, Value: pipelineId }] }));
    } catch (err) {
      throw mapAwsError(err, `Tagging ${what} in ${region} with ${PipelineTag.PIPELINE} (assumeTargetOwned) before deleting it`);
    }
    log.info('tagged as owned before deletion (assumeTargetOwned)', { resource: what });
  }
}

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
