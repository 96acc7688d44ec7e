/*
 * DeleteRds: deletes the target cluster the pipeline owns, and is its own status check (`$.delete`):
 * the state machine calls it again after each wait until it reports done.
 *
 * Every call re-verifies from RDS, never from the preflight: the target must not be the source cluster
 * and must carry this pipeline's tag (or assumeTargetOwned). Before the first change it checks everything
 * that can refuse the delete: deletion protection allowed, the final snapshot's name free (or this
 * operation's), no instance someone else added. Each call then does the next thing the cluster needs:
 * start it if stopped (RDS deletes no stopped cluster) and wait, tag it and its instances as owned
 * (assumeTargetOwned), turn off deletion protection (if allowed), delete the instances and the cluster,
 * or just report 'deleting'. RDS deletes a cluster whose instances are all `deleting` ("You can't delete a DB cluster
 * if it contains DB instances that aren't in the deleting state"), so the cluster's delete is requested as soon as RDS
 * accepted every instance's: in the same call, or on the next check if RDS refused it (InvalidDBClusterStateFault).
 * Once it is gone, the final snapshot is tagged as this pipeline's and older final snapshots of this pipeline beyond
 * `finalSnapshotsToKeep` are deleted (lib/final-snapshots). Called twice, it therefore converges: requests already
 * made show up in RDS's state and are not repeated (an instance already deleting is skipped, a cluster already
 * deleting is only reported), and once RDS says DBClusterNotFoundFault it reports done ('deleted', or 'absent' if
 * there was nothing to delete).
 *
 * It serves three states (the task input's `subject`): the target before a DELETE_FIRST restore (`$.delete`), a
 * previous target an earlier swap kept, before this swap's cutover (`$.keptPrevious`; its final snapshot is named
 * after the operation that kept it), and the previous target this swap renamed away (`$.retire`). A previous target
 * is `arp-prev-<target>` and must carry the pipeline's tag and the previous-target tag; assumeTargetOwned does not
 * apply to it.
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
import { DeleteProgress, DeleteRdsEvent, DeleteSubject, PipelineConfig, PipelineState, PipelineTag, STEP_NAMES, WAIT_PHASES } from '../src/contracts';
import { previousClusterIdentifier } from '../src/names';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError } from './lib/errors';
import { isOwnFinalSnapshot, pruneFinalSnapshots, tagFinalSnapshot } from './lib/final-snapshots';
import { finalSnapshotIdentifier, isOwnedByPipeline, sameRdsIdentifier, tagValue } from './lib/naming';
import { expectedPhase, recordPhase } from './lib/phase-history';
import { describeCluster, describeClusterSnapshot, describeInstance, isFault, tagsOf } from './lib/rds';
import { Logger, runStep, waitOutcome } from './lib/step';
import { phaseSeconds, progress, swapStepSettings, WaitHint } from './lib/waits';

/** What one DeleteRds state deletes, and where its progress and final snapshot go. */
interface Subject {
  readonly kind: DeleteSubject;
  /** The step name of the audit entries: the state's name. */
  readonly step: string;
  readonly cluster: string;
  readonly previous?: DeleteProgress;
  /** Whether assumeTargetOwned may count the cluster as owned (the target only). */
  readonly mayAssumeOwned: boolean;
}

function subjectOf(event: PipelineState | DeleteRdsEvent, config: PipelineConfig): { state: PipelineState; subject: Subject } {
  if (!('subject' in event)) {
    const state = event;
    return {
      state,
      subject: {
        kind: DeleteSubject.TARGET, step: STEP_NAMES.deleteRds, cluster: config.targetClusterIdentifier, previous: state.delete, mayAssumeOwned: true,
      },
    };
  }
  const { state, subject } = event;
  const cluster = previousClusterIdentifier(config.targetClusterIdentifier);
  if (subject === DeleteSubject.KEPT_PREVIOUS) {
    return { state, subject: { kind: subject, step: STEP_NAMES.deleteKeptPrevious, cluster, previous: state.keptPrevious, mayAssumeOwned: false } };
  }
  if (subject === DeleteSubject.PREVIOUS) {
    return { state, subject: { kind: subject, step: STEP_NAMES.retirePrevious, cluster, previous: state.retire, mayAssumeOwned: false } };
  }
  throw errors.invalidInput(`DeleteRds received the subject '${String(subject)}'; expected ${DeleteSubject.KEPT_PREVIOUS} or ${DeleteSubject.PREVIOUS}. The state machine definition is inconsistent: redeploy the pipeline.`);
}

export const handler = async (event: PipelineState | DeleteRdsEvent): Promise<DeleteProgress> => {
  const config = loadConfig();
  const { state, subject } = subjectOf(event, config);
  const opts = { step: subject.step, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    const target = subject.cluster;
    const region = config.targetRegion;
    const previous = subject.previous;
    if (sameRdsIdentifier(target, config.sourceClusterIdentifier) && region === config.sourceRegion) {
      throw errors.sourceClusterProtected(`Refusing to delete cluster ${target} in ${region}: it is the pipeline's source cluster. Configure a different target cluster identifier or target region.`);
    }
    const client = rds(region);
    const cluster = await describeCluster(client, target, region);
    const tags = cluster ? await tagsOf(client, cluster, cluster.DBClusterArn, region) : [];
    // The final snapshot is named after the operation that retired the cluster: a kept previous target's after the
    // operation that kept it (which took none), so two final snapshots of one run never share a name.
    const keptBy = subject.kind === DeleteSubject.KEPT_PREVIOUS ? tagValue(tags, PipelineTag.PREVIOUS_TARGET) : undefined;
    const snapshotOperation = keptBy ?? previous?.finalSnapshotOperationId ?? state.operationId;
    const finalSnapshot = config.finalSnapshotOnDelete ? finalSnapshotIdentifier(config.targetClusterIdentifier, snapshotOperation) : undefined;
    const what = `the deletion of cluster ${target} in ${region}`;
    const now = new Date();
    // The delete is one wait with one history phase, from the first request (the instances', or the cluster's when it
    // has none) until the cluster is gone: that request starts it again (like the password reset) with its expected
    // duration; it is recorded once seen over (once per operation).
    let phase = previous?.phase;
    // A swap's kept or retired previous target is one of the swap's own loops, with their share of the checks.
    const waits = subject.kind === DeleteSubject.TARGET ? config.waits : swapStepSettings(config.waits);
    let hint: WaitHint = {};
    const record = async (part: string) => {
      const seconds = previous?.phase === part ? phaseSeconds(previous, now) : undefined;
      if (seconds !== undefined) await recordPhase(part, state.operationId, seconds, log, now);
    };
    const begin = async (part: string) => {
      phase = part;
      hint = { restart: true, expected: await expectedPhase(part, log) };
    };
    const report = (done: boolean, status: string, existed: boolean) => {
      const result: DeleteProgress = {
        ...progress({ done, status }, previous, waits, what, now, hint),
        ...(phase ? { phase } : {}),
        targetExisted: existed || (previous?.targetExisted ?? false),
        ...(finalSnapshot && (existed || previous?.targetExisted)
          ? { finalSnapshotIdentifier: finalSnapshot, finalSnapshotOperationId: snapshotOperation }
          : {}),
      };
      return {
        result,
        outcome: waitOutcome(done),
        details: {
          targetClusterIdentifier: target,
          subject: subject.kind,
          status,
          attempt: result.attempt,
          targetExisted: result.targetExisted,
          finalSnapshotIdentifier: result.finalSnapshotIdentifier,
        },
      };
    };

    if (!cluster) {
      const existed = previous?.targetExisted ?? false;
      const deletedOld = existed && finalSnapshot ? await settleFinalSnapshots(client, snapshotOperation, region, log) : [];
      await record(WAIT_PHASES.delete);
      const done = report(true, previous ? 'deleted' : 'absent', false);
      return deletedOld.length > 0
        ? { ...done, result: { ...done.result, finalSnapshotsDeleted: deletedOld }, details: { ...done.details, finalSnapshotsDeleted: deletedOld } }
        : done;
    }
    const owned = subject.mayAssumeOwned ? isOwnedByPipeline(tags, config) : tagValue(tags, PipelineTag.PIPELINE) === config.pipelineId;
    if (subject.kind !== DeleteSubject.TARGET && owned && !keptBy && tagValue(tags, PipelineTag.PREVIOUS_TARGET) !== state.operationId) {
      throw errors.targetNotOwned(`Refusing to delete cluster ${target} in ${region}: it carries no ${PipelineTag.PREVIOUS_TARGET} tag naming the swap that renamed it, so it is not a previous target. Nothing was deleted. Find out what it is; delete or rename it by hand, then start the restore again.`);
    }
    if (!owned) {
      const owner = tagValue(tags, PipelineTag.PIPELINE);
      throw errors.targetNotOwned(`Refusing to delete cluster ${target} in ${region}: its tag ${PipelineTag.PIPELINE} is ${owner ? `'${owner}'` : 'missing'}, expected '${config.pipelineId}'. Tag it with ${PipelineTag.PIPELINE}=${config.pipelineId} if the pipeline may replace it, or set assumeTargetOwned.`);
    }
    const status = cluster.Status ?? 'unknown';
    if (status === 'deleting') return report(false, 'deleting', true);

    // Everything that can refuse the delete is checked before the first change, so a refusal leaves the target whole.
    if (cluster.DeletionProtection && !config.allowDisableDeletionProtection) {
      throw errors.deletionProtected(`Cluster ${target} in ${region} has deletion protection on, and the pipeline may not turn it off. Turn it off yourself (aws rds modify-db-cluster --db-cluster-identifier ${target} --no-deletion-protection --apply-immediately), or set allowDisableDeletionProtection on the pipeline, then start the restore again.`);
    }
    const instances = await memberInstances(client, cluster, region, subject.mayAssumeOwned);
    if (finalSnapshot) await assertFinalSnapshotNameFree(client, finalSnapshot, snapshotOperation, region);

    // RDS neither deletes nor modifies a stopped cluster (or its instances): start it, and wait until it is available.
    if (status === 'stopped') {
      const ok = await busyTolerant(log, `Starting the stopped cluster ${target} in ${region} so that it can be deleted`,
        () => client.send(new StartDBClusterCommand({ DBClusterIdentifier: target })));
      if (ok) log.info('target cluster was stopped; starting it before deleting it', { targetClusterIdentifier: target });
      return report(false, 'starting', true);
    }
    if (STARTING_STATES.has(status)) return report(false, status, true);

    if (config.assumeTargetOwned && subject.mayAssumeOwned) await claimOwnership(client, cluster, instances, config.pipelineId, region, log);

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

    // The first request starts the phase; a later one (another instance, the cluster) does not start it again.
    const started = async () => {
      if (phase !== WAIT_PHASES.delete) await begin(WAIT_PHASES.delete);
    };
    if (instances.length > 0) {
      const { requested, allDeleting } = await deleteInstances(client, cluster, instances, region, log);
      if (requested) await started();
      if (!allDeleting) return report(false, 'deleting-instances', true);
    }

    // Every instance is `deleting` (or gone): RDS takes the cluster's delete now and deletes the cluster after them.
    try {
      await client.send(new DeleteDBClusterCommand({
        DBClusterIdentifier: target,
        ...(finalSnapshot ? { FinalDBSnapshotIdentifier: finalSnapshot, SkipFinalSnapshot: false } : { SkipFinalSnapshot: true }),
      }));
    } catch (err) {
      if (isFault(err, 'DBClusterNotFoundFault')) {
        await record(WAIT_PHASES.delete);
        return report(true, 'deleted', true);
      }
      // Busy, or an instance not yet `deleting` in RDS's view: the next check asks again.
      if (isFault(err, 'InvalidDBClusterStateFault')) {
        log.info('cluster busy; deleting it on the next check', { status, errorMessage: (err as Error).message });
        return report(false, instances.length > 0 ? 'deleting-instances' : status, true);
      }
      if (isFault(err, 'DBClusterSnapshotAlreadyExistsFault')) throw finalSnapshotTaken(finalSnapshot!, target, region);
      throw mapAwsError(err, `Deleting cluster ${target} in ${region}${finalSnapshot ? ` with final snapshot ${finalSnapshot}` : ''}`);
    }
    log.info('cluster deletion requested', { targetClusterIdentifier: target, finalSnapshotIdentifier: finalSnapshot });
    await started();
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
async function memberInstances(client: RDSClient, cluster: DBCluster, region: string, mayAssumeOwned: boolean): Promise<DBInstance[]> {
  const config = loadConfig();
  const out: DBInstance[] = [];
  for (const member of cluster.DBClusterMembers ?? []) {
    if (!member.DBInstanceIdentifier) continue;
    const instance = await describeInstance(client, member.DBInstanceIdentifier, region);
    if (!instance) continue;
    if (!config.assumeTargetOwned || !mayAssumeOwned) {
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

/**
 * Deletes every instance of the cluster that is not already going away (RDS says `deleting`: not asked again).
 * Returns whether it requested a deletion, and whether every instance is now `deleting` or gone (RDS then takes the
 * cluster's delete).
 */
async function deleteInstances(
  client: RDSClient, cluster: DBCluster, instances: DBInstance[], region: string, log: Logger,
): Promise<{ requested: boolean; allDeleting: boolean }> {
  let requested = false;
  let allDeleting = true;
  for (const instance of instances) {
    const id = instance.DBInstanceIdentifier;
    if (!id || instance.DBInstanceStatus === 'deleting') continue;
    try {
      const out = await client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id }));
      requested = true;
      // RDS answers with the instance `deleting`; anything else waits for the next check.
      if ((out?.DBInstance?.DBInstanceStatus ?? 'deleting') !== 'deleting') allDeleting = false;
      log.info('instance deletion requested', { instanceIdentifier: id });
    } catch (err) {
      // Already gone: what we asked for. Already deleting or busy: the next check reads which.
      if (isFault(err, 'DBInstanceNotFoundFault', 'InvalidDBInstanceStateFault')) {
        if (!isFault(err, 'DBInstanceNotFoundFault')) allDeleting = false;
        log.info('instance not deleted now', { instanceIdentifier: id, errorName: (err as Error).name });
        continue;
      }
      throw mapAwsError(err, `Deleting instance ${id} of cluster ${cluster.DBClusterIdentifier} in ${region}`);
    }
  }
  return { requested, allDeleting };
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
