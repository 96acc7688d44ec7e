/*
 * RestoreSnapshot: restores the target cluster from the snapshot and creates its writer instance, both
 * tagged as this pipeline's and this operation's, and starts the restore wait loop (`$.restore`). In a swap
 * (`$.swap`) it restores beside the target instead: the operation's temporary cluster `arp-tmp-<target>-<hash>`
 * and its writer `…-writer`, which the cutover later renames to the target's identifier.
 *
 * Called twice (a retry, or a timeout after RDS accepted a request): a cluster or instance that already
 * exists with this operation's tags is adopted, the missing part is created, and the progress is
 * reported as on the first call. One that exists without this operation's tags was made by someone else
 * in the meantime: TargetAlreadyExists, and nothing is touched.
 *
 * Across accounts the snapshot is the shareable copy in the source account, restored straight from its ARN and
 * re-encrypted with the pipeline's key: one copy in all. RDS's KMSKeyNotAccessibleFault there is ShareKeyNotAccessible.
 */
import {
  CreateDBInstanceCommand,
  DBCluster,
  DBInstance,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  Tag,
} from '@aws-sdk/client-rds';
import { PipelineConfig, PipelineState, RestoreProgress, STEP_NAMES, WAIT_PHASES } from '../src/contracts';
import { rds } from './lib/clients';
import { loadConfig } from './lib/config';
import { errors, mapAwsError, PipelineError } from './lib/errors';
import { isFromOperation, mergeTags, ownershipTags, sameRdsIdentifier, temporaryClusterIdentifier, temporaryWriterIdentifier, toRdsTags } from './lib/naming';
import { expectedPhase } from './lib/phase-history';
import { describeCluster, describeInstance, isFault, tagsOf } from './lib/rds';
import { sourceAccountOf } from './lib/source-account';
import { Logger, runStep, waitOutcome } from './lib/step';
import { progress } from './lib/waits';

const ENGINE = 'aurora-postgresql';
const SERVERLESS_CLASS = 'db.serverless';

/** RDS faults of a restore that retrying cannot fix, and what the operator should do about each. */
const RESTORE_FAULTS: Record<string, string> = {
  DBSubnetGroupNotFoundFault: 'check the subnet group the pipeline is configured with',
  InvalidSubnet: 'check the subnets of the configured subnet group',
  InvalidVPCNetworkStateFault: 'check the subnet group and security groups the pipeline is configured with',
  InvalidDBSubnetGroupStateFault: 'check the subnet group the pipeline is configured with',
  DBClusterParameterGroupNotFoundFault: 'check the cluster parameter group the pipeline is configured with',
  DBParameterGroupNotFoundFault: 'check the parameter group the pipeline is configured with',
  InsufficientDBClusterCapacityFault: 'RDS has no capacity for this configuration now: try again later or choose another instance class',
  InsufficientDBInstanceCapacityFault: 'RDS has no capacity for this instance class now: try again later or choose another instance class',
  StorageQuotaExceededFault: 'request a higher RDS storage quota or free storage',
  DBClusterQuotaExceededFault: 'request a higher RDS cluster quota or delete unused clusters',
  InstanceQuotaExceededFault: 'request a higher RDS instance quota or delete unused instances',
  InvalidRestoreFault: 'the snapshot cannot be restored with these settings; check the engine version override and the instance class',
  InvalidParameterCombination: 'fix the restore settings of the pipeline',
  InvalidParameterValue: 'fix the restore settings of the pipeline',
};

export const handler = async (state: PipelineState): Promise<RestoreProgress> => {
  const config = loadConfig();
  const opts = { step: STEP_NAMES.restoreSnapshot, operationId: state.operationId, executionArn: state.executionArn, changesTarget: true };
  return runStep(opts, async ({ log }) => {
    const client = rds(config.targetRegion);
    const ownership = ownershipTags(config, state.operationId, state.snapshot.identifier);
    const tags = mergeTags(toRdsTags(config.tags), toRdsTags(config.restore.tags), ownership);
    const names = restoreNames(config, state);
    const cluster = await ensureCluster(client, config, state, names, tags, log);
    const instance = await ensureInstance(client, config, state, names, tags, log);
    const status = cluster.Status ?? 'creating';
    const expected = await expectedPhase(WAIT_PHASES.restore, log);
    const result: RestoreProgress = {
      ...progress({ done: false, status }, undefined, config.waits, `the restore of cluster ${names.cluster}`, new Date(), { expected }),
      clusterIdentifier: names.cluster,
      clusterArn: cluster.DBClusterArn ?? '',
      instanceIdentifier: names.instance,
      masterPasswordReset: false,
    };
    return {
      result,
      outcome: waitOutcome(false),
      details: {
        clusterIdentifier: result.clusterIdentifier,
        instanceIdentifier: result.instanceIdentifier,
        restoreSnapshotIdentifier: state.restoreSnapshotIdentifier,
        clusterStatus: status,
        instanceStatus: instance.DBInstanceStatus,
        instanceClass: config.restore.instanceClass,
      },
    };
  });
};

/** The cluster and writer a restore creates: the target's, or in a swap the operation's temporary ones. */
interface RestoreNames {
  readonly cluster: string;
  readonly instance: string;
}

function restoreNames(config: PipelineConfig, state: PipelineState): RestoreNames {
  return state.swap
    ? {
      cluster: temporaryClusterIdentifier(config.targetClusterIdentifier, state.operationId),
      instance: temporaryWriterIdentifier(config.targetClusterIdentifier, state.operationId),
    }
    : { cluster: config.targetClusterIdentifier, instance: config.restore.instanceIdentifier };
}

async function ensureCluster(
  client: RDSClient, config: PipelineConfig, state: PipelineState, names: RestoreNames, tags: Tag[], log: Logger,
): Promise<DBCluster> {
  const target = names.cluster;
  const region = config.targetRegion;
  const existing = await describeCluster(client, target, region);
  if (existing) return adoptCluster(existing, config, state, log);
  const r = config.restore;
  try {
    const out = await client.send(new RestoreDBClusterFromSnapshotCommand({
      DBClusterIdentifier: target,
      SnapshotIdentifier: state.restoreSnapshotIdentifier,
      Engine: ENGINE,
      ...(r.engineVersion ? { EngineVersion: r.engineVersion } : {}),
      DBSubnetGroupName: r.subnetGroupName,
      VpcSecurityGroupIds: r.securityGroupIds,
      KmsKeyId: r.kmsKeyArn,
      ...(r.clusterParameterGroupName ? { DBClusterParameterGroupName: r.clusterParameterGroupName } : {}),
      // A temporary cluster gets its deletion protection at the cutover: until then a failure must be able to delete it.
      DeletionProtection: state.swap ? false : r.deletionProtection,
      Port: r.port,
      Tags: tags,
      CopyTagsToSnapshot: true,
      ...(r.instanceClass === SERVERLESS_CLASS
        ? { ServerlessV2ScalingConfiguration: { MinCapacity: r.serverlessV2MinCapacity, MaxCapacity: r.serverlessV2MaxCapacity } }
        : {}),
    }));
    log.info('cluster restore requested', { clusterIdentifier: target, restoreSnapshotIdentifier: state.restoreSnapshotIdentifier });
    if (!out.DBCluster) {
      throw errors.resourceBusy(`RDS accepted the restore of cluster ${target} but returned no cluster. The step is retried and adopts the cluster.`);
    }
    return out.DBCluster;
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    if (isFault(err, 'DBClusterAlreadyExistsFault')) {
      const raced = await describeCluster(client, target, region);
      if (raced) return adoptCluster(raced, config, state, log);
      throw errors.resourceBusy(`RDS says cluster ${target} already exists in ${region} but cannot describe it. The step is retried.`);
    }
    throw mapRestoreError(err, `Restoring cluster ${target} in ${region} from ${state.restoreSnapshotIdentifier}`, config);
  }
}

async function adoptCluster(cluster: DBCluster, config: PipelineConfig, state: PipelineState, log: Logger): Promise<DBCluster> {
  const tags = await tagsOf(rds(config.targetRegion), cluster, cluster.DBClusterArn, config.targetRegion);
  if (!isFromOperation(tags, config, state.operationId)) {
    throw errors.targetAlreadyExists(`Cluster ${cluster.DBClusterIdentifier} appeared in ${config.targetRegion} while operation ${state.operationId} was restoring it, and it is not this operation's (its tags differ). Something else created it: find out what, delete or rename it, and start the restore again.`);
  }
  log.info('cluster already restored by this operation; adopting it', { clusterIdentifier: cluster.DBClusterIdentifier, status: cluster.Status });
  return cluster;
}

async function ensureInstance(
  client: RDSClient, config: PipelineConfig, state: PipelineState, names: RestoreNames, tags: Tag[], log: Logger,
): Promise<DBInstance> {
  const id = names.instance;
  const region = config.targetRegion;
  const existing = await describeInstance(client, id, region);
  if (existing) return adoptInstance(existing, config, state, names, log);
  try {
    const out = await client.send(new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      DBClusterIdentifier: names.cluster,
      Engine: ENGINE,
      DBInstanceClass: config.restore.instanceClass,
      PubliclyAccessible: false,
      Tags: tags,
    }));
    log.info('writer instance requested', { instanceIdentifier: id, instanceClass: config.restore.instanceClass });
    return out.DBInstance ?? { DBInstanceIdentifier: id, DBInstanceStatus: 'creating' };
  } catch (err) {
    if (isFault(err, 'DBInstanceAlreadyExistsFault')) {
      const raced = await describeInstance(client, id, region);
      if (raced) return adoptInstance(raced, config, state, names, log);
      throw errors.resourceBusy(`RDS says instance ${id} already exists in ${region} but cannot describe it. The step is retried.`);
    }
    throw mapRestoreError(err, `Creating writer instance ${id} of cluster ${names.cluster} in ${region}`);
  }
}

async function adoptInstance(
  instance: DBInstance, config: PipelineConfig, state: PipelineState, names: RestoreNames, log: Logger,
): Promise<DBInstance> {
  const tags = await tagsOf(rds(config.targetRegion), instance, instance.DBInstanceArn, config.targetRegion);
  const inTarget = !!instance.DBClusterIdentifier && sameRdsIdentifier(instance.DBClusterIdentifier, names.cluster);
  if (!inTarget || !isFromOperation(tags, config, state.operationId)) {
    throw errors.targetAlreadyExists(`Instance ${names.instance} already exists in ${config.targetRegion} (cluster ${instance.DBClusterIdentifier ?? 'none'}) and is not this operation's writer. Delete or rename it, or configure another instance identifier, then start the restore again.`);
  }
  log.info('writer instance already created by this operation; adopting it', { instanceIdentifier: instance.DBInstanceIdentifier, status: instance.DBInstanceStatus });
  return instance;
}

function mapRestoreError(err: unknown, context: string, config?: PipelineConfig): Error {
  const name = (err as { name?: string })?.name ?? '';
  const source = config && sourceAccountOf(config);
  if (source && name === 'KMSKeyNotAccessibleFault') {
    return errors.shareKeyNotAccessible(`${context}: RDS cannot use the share key (${(err as Error).message ?? ''}). The share key ${source.shareKeyArn} in account `
      + `${source.account} does not let account ${source.pipelineAccount} use it through RDS in ${config.targetRegion}, or it is disabled or gone: redeploy `
      + `AuroraRestoreSource in account ${source.account} with pipelineAccount '${source.pipelineAccount}' and give its shareKeyArn to the pipeline as `
      + `sourceShareKeyArn. (The pipeline's own key ${config.restore.kmsKeyArn} is checked by the preflight, kms.copy-key.)`);
  }
  const advice = RESTORE_FAULTS[name];
  if (advice) {
    return errors.restoreFailed(`${context}: RDS refused with ${name} (${(err as Error).message ?? ''}). To fix: ${advice}, then start the restore again.`);
  }
  return mapAwsError(err, context);
}
