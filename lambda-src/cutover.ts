/*
 * Cutover (ReplaceStrategy.SWAP): once the temporary cluster is restored, set up and validated, renames the target
 * away to `arp-prev-<target>` and the temporary cluster to the target's identifier, so the target's endpoint serves
 * the new data. It is its own status check (`$.cutover`): the state machine calls it again after each wait.
 *
 * Every call reads RDS and does the next thing, so a retried call converges on what an earlier one requested:
 * 1. the target (owned, not the source, available) is tagged as this operation's previous target, then renamed
 *    away (`ModifyDBCluster NewDBClusterIdentifier`, ApplyImmediately); the time of this request starts the
 *    target's unavailability;
 * 2. once the previous target is available under its new name, the temporary cluster is renamed to the target's
 *    identifier (and gets the configured deletion protection);
 * 3. once the cluster under the target's identifier is this operation's and available: done, with
 *    `targetUnavailableSeconds`.
 * A refused second rename is rolled back (the previous target renamed back) and raised as CutoverFailed, which
 * says where each cluster is; when even the rollback is refused, it says what to run by hand.
 */
import { AddTagsToResourceCommand, DBCluster, ModifyDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { CutoverProgress, PipelineConfig, PipelineState, PipelineTag, STEP_NAMES, THROTTLING_ERROR_NAMES, TRANSIENT_ERROR_NAMES, WAIT_PHASES } from '../src/contracts';
import { previousClusterIdentifier } from '../src/names';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError } from './lib/errors';
import { isFromOperation, isOwnedByPipeline, sameRdsIdentifier, tagValue, temporaryClusterIdentifier } from './lib/naming';
import { expectedPhase, recordPhase } from './lib/phase-history';
import { describeCluster, isFault, tagsOf } from './lib/rds';
import { Logger, runStep, StepOutcome, waitOutcome } from './lib/step';
import { updateOperation } from './lib/store';
import { phaseSeconds, progress, swapStepSettings, WaitHint } from './lib/waits';

/** Phases of the cutover, as `$.cutover.phase` reports them. */
export const CUTOVER_PHASES = {
  renamingTargetAway: 'renaming-target-away',
  renamingNewCluster: 'renaming-new-cluster',
  done: 'done',
};

export const handler = async (state: PipelineState): Promise<CutoverProgress> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.cutover, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    const target = config.targetClusterIdentifier;
    const region = config.targetRegion;
    const temporary = temporaryClusterIdentifier(target, state.operationId);
    const previousName = previousClusterIdentifier(target);
    const earlier = state.cutover;
    const client = rds(region);
    if (sameRdsIdentifier(target, config.sourceClusterIdentifier) && region === config.sourceRegion) {
      throw errors.sourceClusterProtected(`Refusing to rename cluster ${target} in ${region}: it is the pipeline's source cluster. Configure a different target cluster identifier or target region.`);
    }

    let renameRequestedAt = earlier?.renameRequestedAt;
    const now = new Date();
    // Each rename has its own history: its request starts the wait again (like the password reset) with the rename's
    // expected duration, and the rename the loop waited for is recorded once seen over (once per operation).
    let hint: WaitHint = {};
    const begin = async (rename: string) => {
      hint = { restart: true, expected: await expectedPhase(rename, log) };
    };
    const record = async (phase: string, rename: string) => {
      const seconds = earlier?.phase === phase ? phaseSeconds(earlier, now) : undefined;
      if (seconds !== undefined) await recordPhase(rename, state.operationId, seconds, log, now);
    };
    const report = (phase: string, status: string, done: boolean, extra: Partial<CutoverProgress> = {}): StepOutcome<CutoverProgress> => {
      const result: CutoverProgress = {
        ...progress({ done, status }, earlier, swapStepSettings(config.waits), `the cutover of ${temporary} to ${target} in ${region}`, now, hint),
        phase,
        temporaryClusterIdentifier: temporary,
        previousClusterIdentifier: previousName,
        ...(renameRequestedAt ? { renameRequestedAt } : {}),
        ...extra,
      };
      return {
        result,
        outcome: waitOutcome(done),
        details: {
          targetClusterIdentifier: target,
          temporaryClusterIdentifier: temporary,
          previousClusterIdentifier: previousName,
          phase,
          status,
          attempt: result.attempt,
          renameRequestedAt,
          targetUnavailableSeconds: result.targetUnavailableSeconds,
        },
      };
    };

    const current = await describeCluster(client, target, region);
    if (current) {
      const tags = await tagsOf(client, current, current.DBClusterArn, region);
      // 3. The new cluster carries the target's identifier.
      if (isFromOperation(tags, config, state.operationId)) {
        const status = current.Status ?? 'unknown';
        if (status !== 'available') return report(CUTOVER_PHASES.renamingNewCluster, status, false);
        const started = renameRequestedAt ? Date.parse(renameRequestedAt) : now.getTime();
        const targetUnavailableSeconds = Math.max(0, Math.round((now.getTime() - started) / 1000));
        await record(CUTOVER_PHASES.renamingNewCluster, WAIT_PHASES.renameNewCluster);
        await recordUnavailable(state, targetUnavailableSeconds, current.Endpoint, log);
        log.info('cutover done: the target identifier serves the new cluster', { targetUnavailableSeconds });
        return report(CUTOVER_PHASES.done, status, true, { targetUnavailableSeconds, ...(current.Endpoint ? { endpoint: current.Endpoint } : {}) });
      }
      // Being renamed away by this operation (it tagged this cluster just before its request): this describe is the whole
      // check. Nothing can be decided before the rename ends, and this path changes nothing: every change still follows
      // the full checks, run by the first check that sees the state change. Once the rename ends the identifier is free,
      // and step 2's checks (the temporary cluster gone, a foreign `arp-prev-`) run before the second rename; if RDS gives
      // the rename up, the cluster is available here again and the checks below (halfway, ownership, the temporary
      // cluster, `arp-prev-` in the way) run before any retry. The halfway check cannot fire now: the cluster under the
      // target's identifier is the one this operation renamed away, not one it did not make. A stopped cluster takes the
      // full path, which says so; a status that never ends is bounded by the loop's checks, like any wait.
      const status = current.Status ?? 'unknown';
      if (tagValue(tags, PipelineTag.PREVIOUS_TARGET) === state.operationId && status !== 'available' && status !== 'stopped') {
        return report(CUTOVER_PHASES.renamingTargetAway, status, false);
      }
      // Halfway (the target already renamed away by this operation), yet a cluster carries the target's identifier: not ours.
      const renamedAway = await describeCluster(client, previousName, region);
      const awayTags = renamedAway ? await tagsOf(client, renamedAway, renamedAway.DBClusterArn, region) : undefined;
      if (renamedAway && tagValue(awayTags, PipelineTag.PREVIOUS_TARGET) === state.operationId) {
        throw errors.cutoverFailed(`Cutover to ${target} in ${region} stopped halfway: this operation renamed the previous target away to ${previousName}, and then a cluster it did not make appeared as ${target} (tag ${PipelineTag.OPERATION_ID} is '${tagValue(tags, PipelineTag.OPERATION_ID) ?? 'missing'}'). Nothing more was renamed. Now: ${target} is that other cluster; the previous target (old data) is ${previousName}; the new cluster is ${temporary} (kept). `
          + `Find out what made ${target}; then either rename it away and give the identifier back to the previous target (aws rds modify-db-cluster --db-cluster-identifier ${previousName} --new-db-cluster-identifier ${target} --apply-immediately), or to the new cluster (the same with --db-cluster-identifier ${temporary}). Delete the cluster you no longer need.`);
      }
      // 1. The target is still the previous one: rename it away.
      return renameTargetAway(client, config, state, current, tags, renamedAway, temporary, previousName, log, async (at) => {
        renameRequestedAt = renameRequestedAt ?? at;
        await begin(WAIT_PHASES.renameTargetAway);
      }, report);
    }

    // 2. The target's identifier is free: the previous target must be ours, renamed away by this operation.
    renameRequestedAt = renameRequestedAt ?? new Date().toISOString(); // a retry that lost the first answer
    const renamed = await describeCluster(client, previousName, region);
    const renamedTags = renamed ? await tagsOf(client, renamed, renamed.DBClusterArn, region) : [];
    const renamedByUs = !!renamed && tagValue(renamedTags, PipelineTag.PREVIOUS_TARGET) === state.operationId;
    // Still renaming away: the temporary cluster is not described. Nothing is changed before the previous target is
    // available, so the checks that need it (gone, available) are deferred to that check, which runs them before the
    // second rename; its "gone" error's remedy (rename the previous target back) could not run before then anyway.
    if (renamed && renamedByUs && renamed.Status !== 'available') {
      return report(CUTOVER_PHASES.renamingTargetAway, renamed.Status ?? 'unknown', false);
    }
    const fresh = await describeCluster(client, temporary, region);
    if (!fresh) {
      throw errors.cutoverFailed(`Cutover to ${target} in ${region}: the temporary cluster ${temporary} is gone and no cluster is named ${target}. `
        + (renamedByUs
          ? `The previous target is now named ${previousName}. Rename it back: aws rds modify-db-cluster --db-cluster-identifier ${previousName} --new-db-cluster-identifier ${target} --apply-immediately, then start the restore again.`
          : `Nothing of this operation renamed the target. Find out what deleted it (the RDS events of ${region}), then start the restore again.`));
    }
    if (renamed && !renamedByUs) {
      throw errors.cutoverFailed(`Cutover to ${target} in ${region}: ${previousName} exists and is not the target this operation renamed away; nothing was renamed. Delete ${previousName} if it is an old previous target you no longer need, then start the restore again.`);
    }
    if (fresh.Status !== 'available') return report(CUTOVER_PHASES.renamingNewCluster, fresh.Status ?? 'unknown', false);
    if (await renameNewCluster(client, config, temporary, target, renamed ? previousName : undefined, log)) {
      await record(CUTOVER_PHASES.renamingTargetAway, WAIT_PHASES.renameTargetAway);
      await begin(WAIT_PHASES.renameNewCluster);
    }
    return report(CUTOVER_PHASES.renamingNewCluster, 'renaming', false);
  });
};

type Report = (phase: string, status: string, done: boolean) => StepOutcome<CutoverProgress>;

/**
 * Step 1: checks everything that can refuse the swap before the first change, then tags and renames the target away.
 * `current` and `renamedAway` are the target and `previousName` as this invocation described them (each once).
 */
async function renameTargetAway(
  client: RDSClient, config: PipelineConfig, state: PipelineState, current: DBCluster, tags: { Key?: string; Value?: string }[],
  renamedAway: DBCluster | undefined, temporary: string, previousName: string, log: Logger,
  requested: (at: string) => Promise<void>, report: Report,
) {
  const target = config.targetClusterIdentifier;
  const region = config.targetRegion;
  if (!isOwnedByPipeline(tags, config)) {
    const owner = tagValue(tags, PipelineTag.PIPELINE);
    throw errors.targetNotOwned(`Refusing to rename cluster ${target} in ${region}: its tag ${PipelineTag.PIPELINE} is ${owner ? `'${owner}'` : 'missing'}, expected '${config.pipelineId}'. Nothing was renamed. Tag it with ${PipelineTag.PIPELINE}=${config.pipelineId} if the pipeline may replace it, or set assumeTargetOwned, then start the restore again.`);
  }
  const fresh = await describeCluster(client, temporary, region);
  if (!fresh) {
    throw errors.cutoverFailed(`Cutover to ${target} in ${region}: the temporary cluster ${temporary} is gone. Nothing was renamed: ${target} is unchanged. Start the restore again.`);
  }
  if (renamedAway) {
    throw errors.cutoverFailed(`Cutover to ${target} in ${region}: ${previousName} already exists (a previous target not deleted). Nothing was renamed: ${target} is unchanged. Delete ${previousName} (or let the next run delete it, if it carries the pipeline's tag), then start the restore again.`);
  }
  const status = current.Status ?? 'unknown';
  if (status === 'stopped') {
    throw errors.cutoverFailed(`Cutover to ${target} in ${region}: the target is stopped, and RDS renames no stopped cluster. Nothing was renamed. Start it (aws rds start-db-cluster --db-cluster-identifier ${target}), then start the restore again.`);
  }
  if (status !== 'available' || fresh.Status !== 'available') return report(CUTOVER_PHASES.renamingTargetAway, status !== 'available' ? status : fresh.Status ?? 'unknown', false);

  // The tag names this operation: a retry (or the rollback) recognises the cluster it renamed away.
  if (tagValue(tags, PipelineTag.PREVIOUS_TARGET) !== state.operationId) {
    try {
      await client.send(new AddTagsToResourceCommand({
        ResourceName: current.DBClusterArn,
        Tags: [{ Key: PipelineTag.PREVIOUS_TARGET, Value: state.operationId }],
      }));
    } catch (err) {
      throw mapAwsError(err, `Tagging cluster ${target} in ${region} as the previous target of operation ${state.operationId}`);
    }
  }
  const at = new Date().toISOString();
  try {
    await client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: target, NewDBClusterIdentifier: previousName, ApplyImmediately: true }));
  } catch (err) {
    if (isFault(err, 'InvalidDBClusterStateFault')) return report(CUTOVER_PHASES.renamingTargetAway, status, false);
    throw mapAwsError(err, `Renaming cluster ${target} to ${previousName} in ${region} (nothing was renamed: ${target} is unchanged)`);
  }
  await requested(at);
  log.info('target renamed away', { targetClusterIdentifier: target, previousClusterIdentifier: previousName });
  return report(CUTOVER_PHASES.renamingTargetAway, 'renaming', false);
}

/**
 * Step 2: renames the temporary cluster to the target's identifier; returns whether RDS took the request (false: busy,
 * the next check tries again). A refusal RDS will not take back on a retry is rolled back: the previous target (when
 * this operation renamed it away) gets the target's identifier again.
 */
async function renameNewCluster(
  client: RDSClient, config: PipelineConfig, temporary: string, target: string, previousName: string | undefined, log: Logger,
): Promise<boolean> {
  const region = config.targetRegion;
  try {
    await client.send(new ModifyDBClusterCommand({
      DBClusterIdentifier: temporary,
      NewDBClusterIdentifier: target,
      ApplyImmediately: true,
      ...(config.restore.deletionProtection ? { DeletionProtection: true } : {}),
    }));
    log.info('new cluster renamed to the target identifier', { temporaryClusterIdentifier: temporary, targetClusterIdentifier: target });
    return true;
  } catch (err) {
    if (isFault(err, 'InvalidDBClusterStateFault')) return false; // busy: the next check tries again
    const failed = mapAwsError(err, `Renaming cluster ${temporary} to ${target} in ${region}`);
    // Transient: the state machine retries the step, which converges. Anything else is rolled back.
    if (TRANSIENT_ERROR_NAMES.includes(failed.name) || THROTTLING_ERROR_NAMES.includes(failed.name)) throw failed;
    if (!previousName) {
      throw errors.cutoverFailed(`Cutover to ${target} in ${region}: renaming the new cluster ${temporary} to ${target} failed (${failed.message}). No cluster is named ${target} now; the new cluster is still ${temporary}. Rename it by hand: aws rds modify-db-cluster --db-cluster-identifier ${temporary} --new-db-cluster-identifier ${target} --apply-immediately.`);
    }
    log.error('renaming the new cluster failed; renaming the previous target back', { errorName: failed.name, errorMessage: failed.message });
    try {
      await client.send(new ModifyDBClusterCommand({ DBClusterIdentifier: previousName, NewDBClusterIdentifier: target, ApplyImmediately: true }));
    } catch (rollbackErr) {
      throw errors.cutoverFailed(`Cutover to ${target} in ${region} failed halfway and could not be rolled back. Now: no cluster is named ${target}; the previous target is ${previousName}; the new cluster is ${temporary}. `
        + `Renaming the new cluster failed (${failed.message}); renaming the previous target back failed too (${(rollbackErr as Error).name}: ${(rollbackErr as Error).message}). `
        + `To restore the previous state: aws rds modify-db-cluster --db-cluster-identifier ${previousName} --new-db-cluster-identifier ${target} --apply-immediately. `
        + `Or to finish the swap: the same with --db-cluster-identifier ${temporary}.`);
    }
    throw errors.cutoverFailed(`Cutover to ${target} in ${region} failed: renaming the new cluster ${temporary} to ${target} was refused (${failed.message}). Rolled back: the previous target ${previousName} is being renamed back to ${target} and serves its old data again in a minute or two. The new cluster ${temporary} is settled as after any failure before a cutover. Fix the cause, then start the restore again.`);
  }
}

/** The state item records the unavailable time and the endpoint (best effort: the audit entry has it too). */
async function recordUnavailable(state: PipelineState, seconds: number, endpoint: string | undefined, log: Logger): Promise<void> {
  try {
    await updateOperation(state.operationId, state.executionArn, {
      targetUnavailableSeconds: seconds,
      ...(endpoint ? { targetEndpoint: endpoint } : {}),
    });
  } catch (err) {
    log.warn('could not record the unavailable time in the state item', { errorName: (err as Error)?.name });
  }
}
