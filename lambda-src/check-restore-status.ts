/*
 * CheckRestoreStatus: one check of the restore loop (`$.restore`). While the cluster or its writer is
 * not available it reports progress (one RDS call per check while the cluster itself is restoring). Once both are available it resets the master password to the
 * target's secret (ModifyDBCluster, ApplyImmediately) and reports done on a later check, when RDS no
 * longer lists the password change as pending and the cluster is available again.
 *
 * Called twice: it reads RDS and converges. Before the reset was recorded in `$.restore`, a second call
 * requests the same password again (harmless: the value is the secret's); after it, a second call only
 * reads. A failed cluster or writer state is RestoreFailed; past the wait budget, OperationTimedOut.
 */
import { DBCluster, DBInstance, ModifyDBClusterCommand } from '@aws-sdk/client-rds';
import { PipelineState, RestoreProgress, STEP_NAMES, WAIT_PHASES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError } from './lib/errors';
import { clusterConsoleLink } from './lib/naming';
import { expectedPhase, recordPhase } from './lib/phase-history';
import { describeCluster, describeInstance, isFault, percent } from './lib/rds';
import { getSecretJson, requireSecretKey } from './lib/secrets';
import { runStep, waitOutcome } from './lib/step';
import { phaseSeconds, progress, WaitHint } from './lib/waits';

/** Cluster and instance states a restore does not come back from without someone's help. */
export const FAILED_STATES = new Set([
  'failed',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-credentials',
  'restore-error',
  'storage-full',
  'insufficient-capacity',
]);

const RESETTING = 'resetting-master-password';
/** While the cluster is being restored, the writer is described on every this-many-th check only. */
export const WRITER_CHECK_EVERY = 10;
const PURPOSE = 'the master password of the restored cluster';

export const handler = async (state: PipelineState): Promise<RestoreProgress> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.checkRestoreStatus, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    const previous = state.restore;
    if (!previous?.clusterIdentifier) {
      throw errors.invalidInput(`Operation ${state.operationId} has no restore to check ($.restore is missing). The state machine definition is inconsistent: redeploy the pipeline and start the restore again.`);
    }
    const region = config.targetRegion;
    const client = rds(region);
    const clusterId = previous.clusterIdentifier;
    const instanceId = previous.instanceIdentifier;
    const link = clusterConsoleLink(region, clusterId);

    const cluster = await describeCluster(client, clusterId, region);
    if (!cluster) {
      throw errors.restoreFailed(`Restored cluster ${clusterId} disappeared from ${region} before it became available (deleted by someone, or RDS gave up). Check the RDS events of ${region}, then start the restore again.`);
    }
    const clusterStatus = cluster.Status ?? 'unknown';
    let requestedAt = previous.masterPasswordResetRequestedAt;
    // The password reset this loop requested is still pending on the cluster: nothing about the writer can finish the
    // loop yet (it was available when the reset was requested), so the cluster alone is read, as while it restores.
    const resetPending = Boolean(requestedAt) && clusterStatus === 'available' && Boolean(cluster.PendingModifiedValues?.MasterUserPassword);
    // The writer cannot be ready before its cluster: while RDS restores the cluster, one describe per check is enough,
    // and the writer is read on every WRITER_CHECK_EVERY-th check only, so that a failed writer still surfaces early.
    const readWriter = (clusterStatus === 'available' && !resetPending) || (previous.attempt + 1) % WRITER_CHECK_EVERY === 0;
    const instance = readWriter ? await describeInstance(client, instanceId, region) : undefined;
    if (readWriter && !instance) {
      throw errors.restoreFailed(`Writer instance ${instanceId} of cluster ${clusterId} disappeared from ${region} before it became available. Check the RDS events, delete cluster ${clusterId} if it is unusable, then start the restore again.`);
    }
    const instanceStatus = instance ? instance.DBInstanceStatus ?? 'unknown' : 'not-read';
    for (const [kind, id, status] of [['cluster', clusterId, clusterStatus], ['writer instance', instanceId, instanceStatus]]) {
      if (FAILED_STATES.has(status)) {
        throw errors.restoreFailed(`The restored ${kind} ${id} is '${status}' (${link}). ${adviceFor(status)} Then delete the cluster (the pipeline replaces it on the next run only if it carries its tag) and start the restore again.`);
      }
    }

    let done = false;
    let status = resetPending ? RESETTING : clusterStatus !== 'available' ? clusterStatus : instanceStatus;
    let hint: WaitHint = {};
    const now = new Date();
    const available = clusterStatus === 'available' && instanceStatus === 'available';
    // Each phase's duration goes into the target's history once it is seen over (once per operation, retries included).
    const record = async (phase: string) => {
      const seconds = phaseSeconds(previous, now);
      if (seconds !== undefined) await recordPhase(phase, state.operationId, seconds, log, now);
    };
    if (available && !requestedAt) {
      await record(WAIT_PHASES.restore);
      if (await resetMasterPassword(cluster, config.restore.masterSecretArn)) {
        requestedAt = now.toISOString();
        status = RESETTING;
        log.info('master password reset requested', { clusterIdentifier: clusterId });
        // The reset takes about a minute: check again soon, not after the restore's long waits.
        hint = { restart: true, expected: await expectedPhase(WAIT_PHASES.passwordReset, log) };
      }
    } else if (available) {
      if (cluster.PendingModifiedValues?.MasterUserPassword) {status = RESETTING;} else {
        done = true;
        await record(WAIT_PHASES.passwordReset);
      }
    }

    const result: RestoreProgress = {
      ...progress({ done, status, percentProgress: percent(cluster.PercentProgress) }, previous, config.waits, `the restore of cluster ${clusterId} (${link})`, now, hint),
      clusterIdentifier: clusterId,
      clusterArn: cluster.DBClusterArn ?? previous.clusterArn,
      instanceIdentifier: instanceId,
      masterPasswordReset: done,
      ...(requestedAt ? { masterPasswordResetRequestedAt: requestedAt } : {}),
      ...(done && instance ? endpointFields(cluster, instance) : {}),
      ...(done ? deleteFirstUnavailable(state) : {}),
    };
    return {
      result,
      outcome: waitOutcome(done),
      details: {
        clusterIdentifier: clusterId,
        clusterStatus,
        ...(instance ? { instanceStatus } : {}),
        status,
        attempt: result.attempt,
        masterPasswordReset: done,
        endpoint: result.endpoint,
      },
    };
  });
};

/** Requests the master password of the target's secret. Returns false when the cluster is busy (checked again later). */
async function resetMasterPassword(cluster: DBCluster, secretArn: string): Promise<boolean> {
  const secret = await getSecretJson(secretArn, PURPOSE);
  const password = requireSecretKey(secret, 'password', secretArn, PURPOSE);
  try {
    await rds(loadConfig().targetRegion).send(new ModifyDBClusterCommand({
      DBClusterIdentifier: cluster.DBClusterIdentifier,
      MasterUserPassword: password,
      ApplyImmediately: true,
    }));
    return true;
  } catch (err) {
    if (isFault(err, 'InvalidDBClusterStateFault')) return false;
    if (isFault(err, 'InvalidParameterValue', 'InvalidParameterCombination')) {
      // RDS's message names the rule the password breaks, never the password.
      throw errors.secretInvalid(`RDS rejected the master password from secret ${secretArn} (key "password") for cluster ${cluster.DBClusterIdentifier}: ${(err as Error).message}. Put a password RDS accepts in the secret (8 to 128 printable ASCII characters, without '/', '@', '"' or spaces), then start the restore again.`);
    }
    throw mapAwsError(err, `Resetting the master password of cluster ${cluster.DBClusterIdentifier}`);
  }
}

function endpointFields(cluster: DBCluster, instance: DBInstance): Partial<RestoreProgress> {
  return {
    ...(cluster.Endpoint ? { endpoint: cluster.Endpoint } : instance.Endpoint?.Address ? { endpoint: instance.Endpoint.Address } : {}),
    ...(cluster.ReaderEndpoint ? { readerEndpoint: cluster.ReaderEndpoint } : {}),
    ...(cluster.Port ?? instance.Endpoint?.Port ? { port: cluster.Port ?? instance.Endpoint?.Port } : {}),
    ...(cluster.EngineVersion ? { engineVersion: cluster.EngineVersion } : {}),
    ...(cluster.MasterUsername ? { masterUsername: cluster.MasterUsername } : {}),
  };
}

function adviceFor(status: string): string {
  if (status.startsWith('inaccessible-encryption-credentials')) return 'RDS cannot use the KMS key of the cluster: check that the key is enabled and that its policy allows RDS and the pipeline\'s role.';
  if (status === 'incompatible-parameters') return 'The parameter group does not fit the engine version or the instance class: check the cluster parameter group and the engine version override.';
  if (status === 'incompatible-network') return 'The subnet group or security groups cannot host the cluster: check the VPC settings of the pipeline.';
  if (status === 'storage-full') return 'The restored storage is full.';
  if (status === 'insufficient-capacity') return 'RDS has no capacity for this instance class: choose another one or try later.';
  return 'Check the RDS events of the cluster for the reason.';
}

/** DELETE_FIRST over an existing target: it was unavailable from the delete's first check until now. */
function deleteFirstUnavailable(state: PipelineState): Partial<RestoreProgress> {
  if (!state.delete?.targetExisted || state.swap) return {};
  const started = Date.parse(state.delete.waitStartedAt);
  return Number.isNaN(started) ? {} : { targetUnavailableSeconds: Math.max(0, Math.round((Date.now() - started) / 1000)) };
}
