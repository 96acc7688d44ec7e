/*
 * SnapshotCheck: validates the execution input, resolves the snapshot, checks the target, takes the
 * lock on the target and records the operation. Its result replaces the whole state `$`.
 *
 * Called twice (a retry): nothing has been created yet, so it converges. The lock is renewed (its holder
 * is this operation and execution), the state item is rewritten for the same execution, and the same
 * snapshot is resolved (for "latest", a newer snapshot that appeared in between would be picked, which is
 * harmless as nothing was copied yet). On a failure after the lock was taken, the lock is released again.
 *
 * The preflight (lib/preflight.ts) runs before the lock: a failed check fails the run with PreflightFailed (or, for
 * a target it may not replace, TargetAlreadyExists / TargetNotOwned) with no lock kept and nothing changed. A dry
 * run (`{"dryRun": true}`) runs only the preflight and returns its checklist: no lock, no state item, no audit entry.
 *
 * Across accounts (`sourceRoleArn`) it first assumes the source account's role (SourceRoleNotAssumable when it cannot:
 * preflight check source.role), finds the snapshot as that role, and refuses an unencrypted one (SourceSnapshotUnencrypted,
 * source.encrypted), all before the lock. The restore then reads the shareable copy `arp-share-…` in the source account.
 */
import { DBCluster, DBClusterSnapshot, paginateDescribeDBClusterSnapshots, RDSClient, Tag } from '@aws-sdk/client-rds';
import {
  DbUserSpec,
  DryRunState,
  PipelineErrorName,
  OperationStatus,
  PipelineConfig,
  PipelineState,
  ReplaceStrategy,
  RestoreExecutionInput,
  SnapshotCheckEvent,
  SnapshotInfo,
  STEP_NAMES,
} from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, isThrottling, mapAwsError, PipelineError } from './lib/errors';
import {
  copySnapshotIdentifier,
  deriveOperationId,
  OPERATION_ID_PATTERN,
  parseSnapshotArn,
  sameRdsIdentifier,
} from './lib/naming';
import { preflightError, runPreflight, targetOwnershipError } from './lib/preflight';
import { describeCluster, describeClusterSnapshot, tagsOf } from './lib/rds';
import { assumeSourceRole, SourceAccount, sourceAccountOf, sourceRds, sharedCopyArn } from './lib/source-account';
import { Logger, runStep, StepOutcome } from './lib/step';
import { acquireLock, putOperation, releaseLock } from './lib/store';

const ENGINE = 'aurora-postgresql';
const INPUT_FIELDS = ['snapshotIdentifier', 'operationId', 'requestedBy', 'dryRun'];
const SNAPSHOT_ID_PATTERN = /^[A-Za-z][A-Za-z0-9:-]{0,254}$/;
const TRANSIENT_SNAPSHOT_STATES = new Set(['creating', 'copying']);

export const handler = async (event: SnapshotCheckEvent): Promise<PipelineState | DryRunState> => {
  const config = loadConfig();
  const operationId = deriveOperationId(event?.input, event?.executionName);
  const rawInput = event?.input;
  // Audited even when the input is refused: never more of it than a valid requestedBy can hold.
  const requestedBy = typeof rawInput?.requestedBy === 'string' ? rawInput.requestedBy.slice(0, 256) : undefined;
  const users: DbUserSpec[] = Array.isArray(event?.users) ? event.users : [];
  // A dry run writes nothing, not even its audit entry: its record is the notification and the execution history.
  const dryRun = rawInput?.dryRun === true;

  return runStep<PipelineState | DryRunState>({ step: STEP_NAMES.snapshotCheck, operationId, requestedBy, audit: !dryRun }, async ({ log }) => {
    const input = validateInput(rawInput);
    const source = sourceAccountOf(config);
    if (sameRdsIdentifier(config.targetClusterIdentifier, config.sourceClusterIdentifier) && config.targetRegion === config.sourceRegion) {
      throw errors.sourceClusterProtected(`The target cluster ${config.targetClusterIdentifier} is the source cluster (same identifier, same region ${config.sourceRegion}); the pipeline never replaces its source. Configure a different target cluster identifier or target region.`);
    }
    if (input.dryRun) return dryRunChecks(config, event, operationId, input, users, log);

    // Resolved before the lock: a snapshot that cannot be restored (or is not the source's) never blocks a target.
    // Across accounts the role is assumed first: a role the pipeline cannot assume fails here, with nothing changed.
    const snapshot = await resolveSnapshot(config, input.snapshotIdentifier, log, await sourceClient(config, source, operationId));
    if (source && !snapshot.storageEncrypted) throw unencryptedError(snapshot, source);
    // The preflight, also before the lock: a run that cannot succeed fails with nothing kept or changed.
    const { report, targetError } = await runPreflight({ config, snapshot, users, operationId, ...await readTarget(config) });
    if (targetError) throw targetError;
    if (!report.passed) throw preflightError(report);
    log.info('preflight passed', { checks: report.checks.map((c) => `${c.id}:${c.status}`) });
    await acquireLock(config.targetClusterIdentifier, operationId, event.executionArn);
    try {
      const replaceTarget = await preflightTarget(config);
      // Across accounts there is always a copy: the shareable one, in the source account.
      const copyRequired = source !== undefined || config.sourceRegion !== config.targetRegion;
      const swap = replaceTarget && config.replaceStrategy === ReplaceStrategy.SWAP;
      const state: PipelineState = {
        operationId,
        executionArn: event.executionArn,
        startedAt: event.executionStartTime,
        sourceClusterIdentifier: config.sourceClusterIdentifier,
        sourceRegion: config.sourceRegion,
        targetClusterIdentifier: config.targetClusterIdentifier,
        targetRegion: config.targetRegion,
        snapshot,
        copyRequired,
        replaceTarget,
        swap,
        restoreSnapshotIdentifier: source
          ? sharedCopyArn(config, source, operationId)
          : copyRequired ? copySnapshotIdentifier(config.targetClusterIdentifier, operationId) : snapshot.arn,
      };
      await putOperation({
        operationId,
        executionArn: event.executionArn,
        status: OperationStatus.RUNNING,
        sourceClusterIdentifier: config.sourceClusterIdentifier,
        targetClusterIdentifier: config.targetClusterIdentifier,
        snapshotIdentifier: snapshot.identifier,
        snapshotArn: snapshot.arn,
        startedAt: event.executionStartTime,
        step: STEP_NAMES.snapshotCheck,
        requestedBy: input.requestedBy,
      });
      return {
        result: state,
        details: {
          snapshotIdentifier: snapshot.identifier,
          snapshotType: snapshot.snapshotType,
          copyRequired,
          replaceTarget,
          swap,
          targetClusterIdentifier: config.targetClusterIdentifier,
          executionArn: event.executionArn,
          ...(source ? { sourceAccount: source.account } : {}),
        },
      };
    } catch (err) {
      // Nothing was created: give the target back right away rather than leaving it to the failure path.
      try {
        await releaseLock(config.targetClusterIdentifier, operationId, event.executionArn);
      } catch (releaseErr) {
        log.warn('could not release the lock after a failure; NotifyFailure retries, else it expires', { errorName: (releaseErr as Error)?.name });
      }
      throw err;
    }
  });
};

/** A dry run: the preflight alone, its checklist as the result. A snapshot that cannot be resolved is a failed check. */
async function dryRunChecks(
  config: PipelineConfig, event: SnapshotCheckEvent, operationId: string, input: RestoreExecutionInput, users: DbUserSpec[], log: Logger,
): Promise<StepOutcome<DryRunState>> {
  let snapshot: SnapshotInfo | undefined;
  let snapshotError: Error | undefined;
  let sourceRoleError: Error | undefined;
  const source = sourceAccountOf(config);
  try {
    snapshot = await resolveSnapshot(config, input.snapshotIdentifier, log, await sourceClient(config, source, operationId));
  } catch (err) {
    // Transient faults are retried by the state machine; anything else is what the checklist reports.
    if (isThrottling(err) || !(err instanceof PipelineError) || err.name === 'ResourceBusy' || err.name === 'AwsServiceUnavailable') throw err;
    snapshotError = err;
    if (err.name === PipelineErrorName.SOURCE_ROLE_NOT_ASSUMABLE) sourceRoleError = err;
  }
  const { report } = await runPreflight({ config, snapshot, snapshotError, sourceRoleError, users, operationId, ...await readTarget(config) });
  log.info('dry run: preflight done', { passed: report.passed, checks: report.checks.map((c) => `${c.id}:${c.status}`) });
  return {
    result: {
      dryRun: true,
      operationId,
      executionArn: event.executionArn,
      targetClusterIdentifier: config.targetClusterIdentifier,
      targetRegion: config.targetRegion,
      ...(snapshot ? { snapshot } : {}),
      preflight: report,
    },
    details: { dryRun: true, passed: report.passed },
  };
}

/** The target cluster and its tags, as the preflight checks them (nothing when it does not exist). */
async function readTarget(config: PipelineConfig): Promise<{ target?: DBCluster; targetTags?: Tag[] }> {
  const client = rds(config.targetRegion);
  const target = await describeCluster(client, config.targetClusterIdentifier, config.targetRegion);
  if (!target) return {};
  return { target, targetTags: await tagsOf(client, target, target.DBClusterArn, config.targetRegion) };
}

/** Validates the execution input: an object with only the known fields, each well-formed. */
function validateInput(raw: unknown): RestoreExecutionInput {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw errors.invalidInput(`The execution input must be a JSON object such as {} or {"snapshotIdentifier": "my-snapshot"}, not ${Array.isArray(raw) ? 'an array' : typeof raw}. Start the execution again with an object.`);
  }
  const input = raw as Record<string, unknown>;
  for (const field of Object.keys(input)) {
    if (!INPUT_FIELDS.includes(field)) {
      throw errors.invalidInput(`The execution input has an unknown field '${field}'. Allowed fields: ${INPUT_FIELDS.join(', ')}. Remove it and start the execution again.`);
    }
  }
  const { snapshotIdentifier, operationId, requestedBy, dryRun } = input;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    throw errors.invalidInput('The execution input field \'dryRun\' must be true or false. Fix it, or leave it out to run a restore.');
  }
  if (snapshotIdentifier !== undefined) {
    if (typeof snapshotIdentifier !== 'string' || snapshotIdentifier === ''
      || (!snapshotIdentifier.startsWith('arn:') && !SNAPSHOT_ID_PATTERN.test(snapshotIdentifier))
      || (snapshotIdentifier.startsWith('arn:') && !parseSnapshotArn(snapshotIdentifier))) {
      throw errors.invalidInput('The execution input field \'snapshotIdentifier\' must be a cluster snapshot identifier (letters, digits, hyphens; automated ones start with \'rds:\') or a cluster snapshot ARN (arn:aws:rds:<region>:<account>:cluster-snapshot:<id>). Fix it, or leave it out to restore the latest snapshot.');
    }
  }
  if (operationId !== undefined && (typeof operationId !== 'string' || !OPERATION_ID_PATTERN.test(operationId))) {
    throw errors.invalidInput('The execution input field \'operationId\' must be 1 to 64 letters, digits, \'-\' or \'_\'. Fix it, or leave it out to use the execution\'s name.');
  }
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.length > 256)) {
    throw errors.invalidInput('The execution input field \'requestedBy\' must be a string of at most 256 characters. Shorten it or leave it out.');
  }
  return input as RestoreExecutionInput;
}

/** The RDS client of the source region: the pipeline's own, or across accounts the source account's role's (assumed now). */
async function sourceClient(config: PipelineConfig, source: SourceAccount | undefined, operationId: string): Promise<RDSClient> {
  if (!source) return rds(config.sourceRegion);
  await assumeSourceRole(config, source, operationId);
  return sourceRds(config, source, operationId, config.sourceRegion);
}

function unencryptedError(snapshot: SnapshotInfo, source: SourceAccount): PipelineError {
  return errors.sourceSnapshotUnencrypted(`Snapshot ${snapshot.identifier} in account ${source.account} (${snapshot.region}) is not encrypted. Across accounts the pipeline `
    + 'shares a copy of it, and the copy of an unencrypted snapshot cannot be encrypted with the share key, so it could be shared with any account. '
    + 'Encrypt the source cluster (restore it from an encrypted copy of one of its snapshots), then start the restore again. Nothing was changed.');
}

async function resolveSnapshot(config: PipelineConfig, requested: string | undefined, log: Logger, client: RDSClient): Promise<SnapshotInfo> {
  const source = sourceAccountOf(config);
  let found: DBClusterSnapshot | undefined;
  if (requested) {
    const arn = requested.startsWith('arn:') ? parseSnapshotArn(requested) : undefined;
    if (arn && arn.region !== config.sourceRegion) {
      throw errors.invalidInput(`The snapshot ARN ${requested} is in region ${arn.region}, but the pipeline restores from the source region ${config.sourceRegion}. Pass a snapshot of the source region.`);
    }
    if (arn && source && arn.account !== source.account) {
      throw errors.invalidInput(`The snapshot ARN ${requested} is in account ${arn.account}, but the pipeline restores from the source account ${source.account}. Pass a snapshot of the source cluster in ${source.account}, or its identifier.`);
    }
    found = await describeClusterSnapshot(client, requested, config.sourceRegion, arn !== undefined && !source);
    if (!found) {
      throw errors.snapshotNotFound(`Snapshot ${requested} does not exist in region ${config.sourceRegion} (or is not shared with this account). Check the identifier and the region, or leave snapshotIdentifier out to restore the latest available snapshot of ${config.sourceClusterIdentifier}.`);
    }
    const status = found.Status ?? 'unknown';
    if (status !== 'available') {
      if (TRANSIENT_SNAPSHOT_STATES.has(status)) {
        throw errors.resourceBusy(`Snapshot ${requested} is '${status}', not yet 'available'. The step is retried; if it keeps failing, wait for the snapshot to become available and start the restore again.`);
      }
      throw errors.snapshotNotFound(`Snapshot ${requested} is '${status}' and cannot be restored. Choose an available snapshot, or leave snapshotIdentifier out to restore the latest one.`);
    }
    if (!found.DBClusterIdentifier || !sameRdsIdentifier(found.DBClusterIdentifier, config.sourceClusterIdentifier)) {
      throw errors.snapshotNotFromSource(`Snapshot ${requested} is a snapshot of cluster ${found.DBClusterIdentifier ?? '(unknown)'}, not of the source cluster ${config.sourceClusterIdentifier}: the pipeline restores only its source's snapshots. Pass a snapshot of ${config.sourceClusterIdentifier}, or leave snapshotIdentifier out to restore its latest one.`);
    }
  } else {
    found = await latestSnapshot(config, client);
  }
  if (found.Engine !== ENGINE) {
    throw errors.unsupportedEngine(`Snapshot ${found.DBClusterSnapshotIdentifier} is of engine '${found.Engine}'; the pipeline restores only ${ENGINE} snapshots. Choose a snapshot of an Aurora PostgreSQL cluster.`);
  }
  const info: SnapshotInfo = {
    identifier: found.DBClusterSnapshotIdentifier ?? requested ?? '',
    arn: found.DBClusterSnapshotArn ?? '',
    region: (found.DBClusterSnapshotArn && parseSnapshotArn(found.DBClusterSnapshotArn)?.region) || config.sourceRegion,
    snapshotType: found.SnapshotType ?? 'manual',
    engine: found.Engine,
    engineVersion: found.EngineVersion ?? '',
    storageEncrypted: found.StorageEncrypted ?? false,
    ...(found.KmsKeyId ? { kmsKeyId: found.KmsKeyId } : {}),
    createdAt: (found.SnapshotCreateTime ?? new Date(0)).toISOString(),
  };
  if (!info.arn || !info.identifier) {
    throw errors.snapshotNotFound(`RDS described snapshot ${requested ?? '(latest)'} without an identifier or ARN. Check the snapshot in the RDS console of ${config.sourceRegion} and start the restore again.`);
  }
  log.info('snapshot resolved', { snapshotIdentifier: info.identifier, snapshotType: info.snapshotType, createdAt: info.createdAt });
  return info;
}

/** The newest available snapshot of the source cluster (manual, and automated when configured). */
async function latestSnapshot(config: PipelineConfig, client: RDSClient): Promise<DBClusterSnapshot> {
  const types = config.includeAutomatedSnapshots ? ['manual', 'automated'] : ['manual'];
  let latest: DBClusterSnapshot | undefined;
  for (const type of types) {
    try {
      const pages = paginateDescribeDBClusterSnapshots({ client }, { DBClusterIdentifier: config.sourceClusterIdentifier, SnapshotType: type });
      for await (const page of pages) {
        for (const s of page.DBClusterSnapshots ?? []) {
          if (s.Status !== 'available' || !s.SnapshotCreateTime) continue;
          if (!latest || s.SnapshotCreateTime.getTime() > latest.SnapshotCreateTime!.getTime()) latest = s;
        }
      }
    } catch (err) {
      throw mapAwsError(err, `Listing ${type} snapshots of cluster ${config.sourceClusterIdentifier} in ${config.sourceRegion}`);
    }
  }
  if (!latest) {
    throw errors.snapshotNotFound(`Cluster ${config.sourceClusterIdentifier} has no available ${types.join(' or ')} snapshot in region ${config.sourceRegion}. Take a snapshot (or wait for the one in progress), enable includeAutomatedSnapshots, or pass snapshotIdentifier.`);
  }
  return latest;
}

/** Checks the target: absent → false; present → true when the pipeline may replace it, else a named error. */
async function preflightTarget(config: PipelineConfig): Promise<boolean> {
  const target = await describeCluster(rds(config.targetRegion), config.targetClusterIdentifier, config.targetRegion);
  if (!target) return false;
  const tags = await tagsOf(rds(config.targetRegion), target, target.DBClusterArn, config.targetRegion);
  const notOwned = targetOwnershipError(config, tags);
  if (notOwned) throw notOwned;
  return true;
}
