/*
 * The preflight: read-only checks SnapshotCheck runs before it takes the lock, so that a run that cannot succeed
 * fails before anything is touched (and a dry run reports all of them). Each check has an id (PreflightCheckId),
 * an outcome, a reason and, when it fails, what to do. No check writes anything or returns a secret value.
 *
 * A check's own AWS faults (missing resource, access denied) fail the check; throttling and transient faults are
 * rethrown so the state machine retries the step.
 */
import { DescribeKeyCommand, KeyMetadata, KMSClient } from '@aws-sdk/client-kms';
import {
  DBCluster,
  DescribeAccountAttributesCommand,
  DescribeDBEngineVersionsCommand,
  DescribeDBSubnetGroupsCommand,
  paginateDescribeDBClusterSnapshots,
  Tag,
} from '@aws-sdk/client-rds';
import { kms, rds } from './clients';
import { describeSecurityGroupIds } from './ec2-query';
import { errors, isThrottling, mapAwsError, PipelineError } from './errors';
import { isOwnedByPipeline, tagValue } from './naming';
import { isFault } from './rds';
import { getSecretJson, requireSecretKey } from './secrets';
import { sourceAccountOf, sourceKms } from './source-account';
import {
  DbUserSpec,
  PipelineConfig,
  PipelineErrorName,
  PipelineTag,
  PreflightCheckId,
  PreflightCheckResult,
  PreflightCheckStatus,
  PreflightReport,
  ReplaceStrategy,
  SnapshotInfo,
  TRANSIENT_ERROR_NAMES,
} from '../../src/contracts';

const ENGINE = 'aurora-postgresql';

/**
 * Cluster snapshot copies RDS runs at once into one destination region per account: "You can have up to five snapshot
 * copy requests in progress to a single destination Region per account."
 * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_CopySnapshot.html, Limitations, read 2026-12-04.)
 */
export const MAX_COPIES_IN_FLIGHT = 5;

/** RDS's names of the account quotas the preflight reads (DescribeAccountAttributes). */
export const QUOTA_NAMES = { manualClusterSnapshots: 'ManualClusterSnapshots', clusters: 'DBClusters' };

/** What the preflight checks against. */
export interface PreflightInput {
  readonly config: PipelineConfig;
  /** The resolved snapshot, when it could be resolved. */
  readonly snapshot?: SnapshotInfo;
  /** Why the snapshot could not be resolved (a dry run goes on and reports it). */
  readonly snapshotError?: Error;
  /** The target cluster as described now, when it exists. */
  readonly target?: DBCluster;
  /** The target's tags (read only when it exists). */
  readonly targetTags?: Tag[];
  /** The database users whose secrets to check. */
  readonly users: DbUserSpec[];
  /**
   * The operation (across accounts, the role session is named after it).
   * @default - `preflight`
   */
  readonly operationId?: string;
  /**
   * Across accounts: why the source account's role could not be assumed (SourceRoleNotAssumable).
   * @default - it was assumed, or the source is in the pipeline's account
   */
  readonly sourceRoleError?: Error;
}

/** The checklist, and the dedicated error of a target that may not be replaced (raised as such by a real run). */
export interface PreflightOutcome {
  readonly report: PreflightReport;
  /** TargetAlreadyExists or TargetNotOwned, the errors a run has always raised for its target. */
  readonly targetError?: PipelineError;
}

type Check = Omit<PreflightCheckResult, 'id'>;

const passed = (reason: string): Check => ({ status: PreflightCheckStatus.PASSED, reason });
const skipped = (reason: string): Check => ({ status: PreflightCheckStatus.SKIPPED, reason });
const failed = (reason: string, fix: string): Check => ({ status: PreflightCheckStatus.FAILED, reason, fix });

/** Runs every check (in parallel; the report keeps their order). */
export async function runPreflight(input: PreflightInput): Promise<PreflightOutcome> {
  const { config } = input;
  // Copies into the pipeline's account: across accounts the (shareable) copy is made in the source account instead.
  const copyRequired = !sourceAccountOf(config) && config.sourceRegion !== config.targetRegion;
  const targetError = input.target ? targetOwnershipError(config, input.targetTags ?? []) : undefined;
  const checks: Array<[PreflightCheckId, () => Promise<Check> | Check]> = [
    [PreflightCheckId.SNAPSHOT_AVAILABLE, () => snapshotAvailable(input)],
    [PreflightCheckId.SNAPSHOT_ENGINE, () => snapshotEngine(input)],
    [PreflightCheckId.SNAPSHOT_ENGINE_VERSION, () => engineVersion(input)],
    [PreflightCheckId.COPY_KEY, () => copyKey(config)],
    [PreflightCheckId.SOURCE_KEY, () => sourceKey(input)],
    [PreflightCheckId.SUBNET_GROUP, () => subnetGroup(config)],
    [PreflightCheckId.SECURITY_GROUPS, () => securityGroups(config)],
    [PreflightCheckId.SNAPSHOT_QUOTA, () => snapshotQuota(input, copyRequired)],
    [PreflightCheckId.CLUSTER_QUOTA, () => clusterQuota(input)],
    [PreflightCheckId.COPIES_IN_FLIGHT, () => copiesInFlight(config, copyRequired)],
    [PreflightCheckId.TARGET_OWNERSHIP, () => targetOwnership(input, targetError)],
    [PreflightCheckId.TARGET_DELETION_PROTECTION, () => deletionProtection(input)],
    [PreflightCheckId.TARGET_STOPPED, () => targetStopped(input)],
    [PreflightCheckId.MASTER_SECRET, () => masterSecret(config)],
    [PreflightCheckId.USER_SECRETS, () => userSecrets(input.users)],
    [PreflightCheckId.SOURCE_ROLE, () => sourceRole(input)],
    [PreflightCheckId.SOURCE_ENCRYPTED, () => sourceEncrypted(input)],
    [PreflightCheckId.SHARE_KEY, () => shareKey(input)],
  ];
  const results = await Promise.all(checks.map(async ([id, run]): Promise<PreflightCheckResult> => ({ id, ...await guarded(id, run) })));
  return { report: report(results), ...(targetError ? { targetError } : {}) };
}

/** A check's unexpected fault fails the check with AWS's answer; throttling and transient faults are retried instead. */
async function guarded(id: PreflightCheckId, run: () => Promise<Check> | Check): Promise<Check> {
  try {
    return await run();
  } catch (err) {
    const mapped = mapAwsError(err, `Preflight check ${id}`);
    if (isThrottling(mapped) || TRANSIENT_ERROR_NAMES.includes(mapped.name)) throw mapped;
    return failed(`${mapped.name}: ${mapped.message}`, 'Fix what the error names (often a permission of the SnapshotCheck function\'s role, a key policy or an SCP), then run a dry run again.');
  }
}

function report(checks: PreflightCheckResult[]): PreflightReport {
  const failures = checks.filter((c) => c.status === PreflightCheckStatus.FAILED);
  const skippedCount = checks.filter((c) => c.status === PreflightCheckStatus.SKIPPED).length;
  const summary = failures.length === 0
    ? `All ${checks.length - skippedCount} applicable preflight checks passed (${skippedCount} not applicable).`
    : `${failures.length} of ${checks.length} preflight checks failed, before anything was changed: `
      + failures.map((c) => `[${c.id}] ${c.reason} Fix: ${c.fix}`).join(' ')
      + ' Fix these, then run a dry run ({"dryRun": true}) to check again.';
  return { passed: failures.length === 0, checks, summary };
}

/** The PreflightFailed error of a failed report. */
export function preflightError(r: PreflightReport): PipelineError {
  return errors.preflightFailed(r.summary);
}

function snapshotAvailable(input: PreflightInput): Check {
  const { snapshot, snapshotError: err } = input;
  if (snapshot) return passed(`Snapshot ${snapshot.identifier} (${snapshot.snapshotType}, created ${snapshot.createdAt}) is available in ${snapshot.region}.`);
  if (err && err.name === PipelineErrorName.UNSUPPORTED_ENGINE) return passed('The snapshot exists and is available (see snapshot.engine).');
  // Not looked for: the source account's snapshots are read as its role (source.role says what to fix).
  if (input.sourceRoleError) return skipped('The source account\'s snapshots could not be read: its role could not be assumed (see source.role).');
  return failed(err?.message ?? 'No snapshot was resolved.', 'Take a snapshot of the source cluster, wait until it is available, or pass snapshotIdentifier naming an available snapshot of the source cluster.');
}

function snapshotEngine(input: PreflightInput): Check {
  const { snapshot, snapshotError: err } = input;
  if (snapshot) return passed(`The snapshot's engine is ${snapshot.engine}.`);
  if (err && err.name === PipelineErrorName.UNSUPPORTED_ENGINE) return failed(err.message, `Restore a snapshot of an Aurora PostgreSQL (${ENGINE}) cluster.`);
  return skipped('No snapshot to check (see snapshot.available).');
}

async function engineVersion(input: PreflightInput): Promise<Check> {
  const wanted = input.config.restore.engineVersion;
  const snapshot = input.snapshot;
  if (!wanted) return skipped(`No engineVersion configured: the target is restored at the snapshot's version${snapshot ? ` (${snapshot.engineVersion})` : ''}.`);
  if (!snapshot) return skipped('No snapshot to check (see snapshot.available).');
  if (wanted === snapshot.engineVersion) return passed(`engineVersion ${wanted} is the snapshot's version.`);
  const region = input.config.targetRegion;
  const out = await rds(region).send(new DescribeDBEngineVersionsCommand({ Engine: ENGINE, EngineVersion: snapshot.engineVersion }));
  const current = out.DBEngineVersions?.find((v) => v.EngineVersion === snapshot.engineVersion);
  if (!current) {
    return failed(`RDS in ${region} does not list ${ENGINE} ${snapshot.engineVersion}, the snapshot's version, so its upgrade targets are unknown.`,
      `Check the snapshot's engine version, or leave engineVersion unset to restore at ${snapshot.engineVersion}.`);
  }
  const targets = (current.ValidUpgradeTarget ?? []).map((t) => t.EngineVersion).filter((v): v is string => !!v);
  if (targets.includes(wanted)) return passed(`engineVersion ${wanted} is a valid upgrade target of the snapshot's version ${snapshot.engineVersion}.`);
  return failed(`engineVersion ${wanted} is not a valid upgrade target of the snapshot's version ${snapshot.engineVersion} (valid: ${targets.length ? targets.join(', ') : 'none'}).`,
    `Set engineVersion to one of the valid targets${targets.length ? ` (${targets.slice(-3).join(', ')})` : ''}, or leave it unset to restore at ${snapshot.engineVersion}.`);
}

/** Describes a key; `undefined` with the check when it cannot be. */
async function describeKey(keyId: string, region: string, client: KMSClient = kms(region)): Promise<{ key?: KeyMetadata; check?: Check }> {
  try {
    const out = await client.send(new DescribeKeyCommand({ KeyId: keyId }));
    return { key: out.KeyMetadata };
  } catch (err) {
    if (isFault(err, 'NotFoundException', 'InvalidArnException')) {
      return { check: failed(`KMS key ${keyId} does not exist in ${region}.`, `Create the key in ${region} (or configure an existing one), then deploy again.`) };
    }
    if (isFault(err, 'AccessDeniedException')) {
      return {
        check: failed(`The pipeline may not describe KMS key ${keyId} in ${region} (AccessDeniedException).`,
          'Let this account use the key in its key policy (kms:DescribeKey, kms:CreateGrant for AWS resources), and check that no SCP or permissions boundary denies it.'),
      };
    }
    throw err;
  }
}

function keyProblem(key: KeyMetadata, keyId: string, region: string): Check | undefined {
  if (key.KeyState !== 'Enabled') {
    return failed(`KMS key ${keyId} in ${region} is ${key.KeyState ?? 'in an unknown state'}, not Enabled.`, `Enable the key (aws kms enable-key --key-id ${keyId} --region ${region}) or cancel its deletion.`);
  }
  if (key.KeySpec !== 'SYMMETRIC_DEFAULT' || key.KeyUsage !== 'ENCRYPT_DECRYPT') {
    return failed(`KMS key ${keyId} in ${region} is ${key.KeySpec}/${key.KeyUsage}; RDS encrypts only with symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).`,
      'Configure a symmetric encryption key (snapshotCopyKey).');
  }
  return undefined;
}

async function copyKey(config: PipelineConfig): Promise<Check> {
  const keyId = config.snapshotCopyKeyArn;
  const region = config.targetRegion;
  const { key, check } = await describeKey(keyId, region);
  if (check) return check;
  return keyProblem(key!, keyId, region) ?? passed(`KMS key ${keyId} exists in ${region}, is enabled and symmetric.`);
}

async function sourceKey(input: PreflightInput): Promise<Check> {
  const snapshot = input.snapshot;
  if (sourceAccountOf(input.config)) {
    return skipped('The source snapshot is in another account: its key is used there, by the source account\'s role through RDS, for the shareable copy (see kms.share-key).');
  }
  if (!snapshot) return skipped('No snapshot to check (see snapshot.available).');
  if (!snapshot.storageEncrypted || !snapshot.kmsKeyId) return skipped(`Snapshot ${snapshot.identifier} is not encrypted.`);
  const { key, check } = await describeKey(snapshot.kmsKeyId, snapshot.region);
  if (check) return check;
  if (key!.KeyManager === 'AWS') return passed(`Snapshot ${snapshot.identifier} is encrypted with the AWS managed key of RDS, which the pipeline's copy or restore may use.`);
  return keyProblem(key!, snapshot.kmsKeyId, snapshot.region)
    ?? passed(`The snapshot's customer managed key ${key!.Arn ?? snapshot.kmsKeyId} in ${snapshot.region} is usable by the pipeline and enabled.`);
}

const SAME_ACCOUNT = 'The source cluster is in the pipeline\'s account.';

function sourceRole(input: PreflightInput): Check {
  const source = sourceAccountOf(input.config);
  if (!source) return skipped(SAME_ACCOUNT);
  if (input.sourceRoleError) {
    return failed(input.sourceRoleError.message,
      `Deploy AuroraRestoreSource in account ${source.account} with pipelineAccount '${source.pipelineAccount}' and give its roleArn as sourceRoleArn; then run a dry run again.`);
  }
  return passed(`The pipeline assumed role ${source.roleArn} in account ${source.account}.`);
}

function sourceEncrypted(input: PreflightInput): Check {
  const source = sourceAccountOf(input.config);
  if (!source) return skipped(SAME_ACCOUNT);
  const snapshot = input.snapshot;
  if (!snapshot) return skipped('No snapshot to check (see snapshot.available).');
  if (snapshot.storageEncrypted) return passed(`Snapshot ${snapshot.identifier} in account ${source.account} is encrypted: its shareable copy is re-encrypted with the share key.`);
  return failed(`Snapshot ${snapshot.identifier} in account ${source.account} is not encrypted: its shareable copy could not be encrypted with the share key and could be shared with any account.`,
    'Encrypt the source cluster (restore it from an encrypted copy of one of its snapshots); the pipeline never shares an unencrypted snapshot.');
}

async function shareKey(input: PreflightInput): Promise<Check> {
  const { config } = input;
  const source = sourceAccountOf(config);
  if (!source) return skipped(SAME_ACCOUNT);
  if (input.sourceRoleError) return skipped('The source account\'s role could not be assumed (see source.role).');
  const keyId = source.shareKeyArn;
  const region = config.targetRegion;
  const keyRegion = keyId.split(':')[3];
  if (keyRegion !== region) {
    return failed(`The share key ${keyId} is in ${keyRegion || 'an unknown region'}, not in the pipeline's region ${region}: a shared cluster snapshot can be restored only in its own region.`,
      `Deploy AuroraRestoreSource in account ${source.account} in ${region} and give its shareKeyArn as sourceShareKeyArn.`);
  }
  const client = await sourceKms(config, source, input.operationId ?? 'preflight', region);
  const { key, check } = await describeKey(keyId, region, client);
  if (check) return check;
  return keyProblem(key!, keyId, region) ?? passed(`The share key ${keyId} in account ${source.account} exists in ${region}, is enabled and symmetric.`);
}

async function subnetGroup(config: PipelineConfig): Promise<Check> {
  const name = config.restore.subnetGroupName;
  const region = config.targetRegion;
  try {
    const out = await rds(region).send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: name }));
    const group = out.DBSubnetGroups?.[0];
    const zones = new Set((group?.Subnets ?? []).map((s) => s.SubnetAvailabilityZone?.Name).filter((z): z is string => !!z));
    if (zones.size < 2) {
      return failed(`DB subnet group ${name} in ${region} has subnets in ${zones.size} Availability Zone${zones.size === 1 ? '' : 's'}${zones.size ? ` (${[...zones].join(', ')})` : ''}; Aurora needs at least two.`,
        'Add subnets of a second Availability Zone to the subnet group (or give the pipeline a VPC with subnets in two zones).');
    }
    return passed(`DB subnet group ${name} in ${region} has subnets in ${zones.size} Availability Zones (${[...zones].sort().join(', ')}).`);
  } catch (err) {
    if (isFault(err, 'DBSubnetGroupNotFoundFault')) {
      return failed(`DB subnet group ${name} does not exist in ${region}.`, 'Create it (or deploy the stack again, which creates the pipeline\'s own), or configure an existing subnet group.');
    }
    throw err;
  }
}

async function securityGroups(config: PipelineConfig): Promise<Check> {
  const ids = config.restore.securityGroupIds;
  const region = config.targetRegion;
  if (ids.length === 0) return skipped('No security groups configured: the cluster gets the VPC\'s default security group.');
  const missing: string[] = [];
  for (const id of ids) {
    try {
      if (!(await describeSecurityGroupIds(region, [id])).includes(id)) missing.push(id);
    } catch (err) {
      if (!isFault(err, 'InvalidGroup.NotFound', 'InvalidGroupId.Malformed')) throw err;
      missing.push(id);
    }
  }
  if (missing.length) {
    return failed(`Security group${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of the restored cluster do${missing.length > 1 ? '' : 'es'} not exist in ${region}.`,
      'Create them, or configure existing security groups (securityGroups), then deploy again.');
  }
  return passed(`Security groups ${ids.join(', ')} exist in ${region}.`);
}

/** One account quota of the target region: used and max, or `undefined` when RDS does not report it. */
async function quota(config: PipelineConfig, name: string): Promise<{ used: number; max: number } | undefined> {
  const out = await rds(config.targetRegion).send(new DescribeAccountAttributesCommand({}));
  const q = out.AccountQuotas?.find((a) => a.AccountQuotaName === name);
  return q && q.Used !== undefined && q.Max !== undefined ? { used: Number(q.Used), max: Number(q.Max) } : undefined;
}

async function snapshotQuota(input: PreflightInput, copyRequired: boolean): Promise<Check> {
  const { config } = input;
  const takes = (copyRequired ? 1 : 0) + (input.target && config.finalSnapshotOnDelete ? 1 : 0);
  const q = await quota(config, QUOTA_NAMES.manualClusterSnapshots);
  if (!q) return skipped(`RDS did not report the ${QUOTA_NAMES.manualClusterSnapshots} quota in ${config.targetRegion}.`);
  const what = [copyRequired ? 'the snapshot copy' : '', input.target && config.finalSnapshotOnDelete ? 'the final snapshot of the target' : ''].filter(Boolean).join(' and ');
  if (q.used + takes > q.max) {
    return failed(`The account has ${q.used} of at most ${q.max} manual cluster snapshots in ${config.targetRegion}; this run takes ${takes} more (${what}).`,
      `Delete manual cluster snapshots you no longer need in ${config.targetRegion} (kept copies are tagged ${PipelineTag.RETAINED}=true), lower finalSnapshotsToKeep, or ask for a higher quota (Service Quotas: Manual DB cluster snapshots).`);
  }
  return passed(`${q.used} of at most ${q.max} manual cluster snapshots in ${config.targetRegion}; this run takes ${takes}${what ? ` (${what})` : ''}.`);
}

async function clusterQuota(input: PreflightInput): Promise<Check> {
  const { config } = input;
  const q = await quota(config, QUOTA_NAMES.clusters);
  if (!q) return skipped(`RDS did not report the ${QUOTA_NAMES.clusters} quota in ${config.targetRegion}.`);
  // DELETE_FIRST deletes the target before the restore: the count does not grow. A swap restores beside it.
  const swap = input.target !== undefined && config.replaceStrategy === ReplaceStrategy.SWAP;
  const adds = input.target && !swap ? 0 : 1;
  if (q.used + adds > q.max) {
    return failed(`The account has ${q.used} of at most ${q.max} DB clusters in ${config.targetRegion}, and this run creates ${swap ? 'a cluster beside the target (the swap\'s temporary cluster)' : 'the target'}.`,
      `Delete DB clusters you no longer need in ${config.targetRegion}, or ask for a higher quota (Service Quotas: DB clusters).`);
  }
  return passed(`${q.used} of at most ${q.max} DB clusters in ${config.targetRegion}; this run adds ${adds}.`);
}

async function copiesInFlight(config: PipelineConfig, copyRequired: boolean): Promise<Check> {
  if (sourceAccountOf(config)) return skipped('The copy is made in the source account (the shareable copy), not in this one.');
  if (!copyRequired) return skipped('The snapshot is restored in its own region: no copy.');
  const region = config.targetRegion;
  let copying = 0;
  for await (const page of paginateDescribeDBClusterSnapshots({ client: rds(region) }, { SnapshotType: 'manual' })) {
    copying += (page.DBClusterSnapshots ?? []).filter((s) => s.Status === 'copying').length;
  }
  if (copying >= MAX_COPIES_IN_FLIGHT) {
    return failed(`${copying} cluster snapshot copies are in flight into ${region}; RDS runs at most ${MAX_COPIES_IN_FLIGHT} per destination region and account.`,
      `Wait for the copies into ${region} to finish (or cancel one by deleting its snapshot while it is copying), then start the restore again.`);
  }
  return passed(`${copying} cluster snapshot copies in flight into ${region} (at most ${MAX_COPIES_IN_FLIGHT}).`);
}

/** TargetAlreadyExists or TargetNotOwned for an existing target the pipeline may not replace; else `undefined`. */
export function targetOwnershipError(config: PipelineConfig, tags: Tag[]): PipelineError | undefined {
  if (!config.replaceExistingTarget) {
    return errors.targetAlreadyExists(`Target cluster ${config.targetClusterIdentifier} already exists in ${config.targetRegion} and the pipeline is not allowed to replace it. Delete or rename it, or set replaceExistingTarget on the pipeline.`);
  }
  if (!isOwnedByPipeline(tags, config)) {
    const owner = tagValue(tags, PipelineTag.PIPELINE);
    return errors.targetNotOwned(`Target cluster ${config.targetClusterIdentifier} in ${config.targetRegion} was not created by this pipeline (tag ${PipelineTag.PIPELINE} is ${owner ? `'${owner}'` : 'missing'}, expected '${config.pipelineId}'), so it is not replaced. Tag it with ${PipelineTag.PIPELINE}=${config.pipelineId} if the pipeline may replace it, set assumeTargetOwned, or choose another target.`);
  }
  return undefined;
}

function targetOwnership(input: PreflightInput, error: PipelineError | undefined): Check {
  const { config } = input;
  if (!input.target) return passed(`Target cluster ${config.targetClusterIdentifier} does not exist in ${config.targetRegion}: the restore creates it.`);
  if (error) return failed(`${error.name}: ${error.message}`, error.name === PipelineErrorName.TARGET_ALREADY_EXISTS ? 'Set replaceExistingTarget, or choose another target.' : 'Tag the target as this pipeline\'s, set assumeTargetOwned, or choose another target.');
  return passed(`Target cluster ${config.targetClusterIdentifier} exists and this pipeline may replace it (${config.assumeTargetOwned ? 'assumeTargetOwned' : 'it carries the ownership tag'}).`);
}

function deletionProtection(input: PreflightInput): Check {
  const { config, target } = input;
  if (!target) return skipped('No target cluster to delete.');
  if (!target.DeletionProtection) return passed(`Deletion protection of ${config.targetClusterIdentifier} is off.`);
  if (config.allowDisableDeletionProtection) return passed(`Deletion protection of ${config.targetClusterIdentifier} is on; the pipeline turns it off before deleting it (allowDisableDeletionProtection).`);
  return failed(`Target cluster ${config.targetClusterIdentifier} has deletion protection on, and the pipeline may not turn it off.`,
    `Turn it off (aws rds modify-db-cluster --db-cluster-identifier ${config.targetClusterIdentifier} --no-deletion-protection --apply-immediately --region ${config.targetRegion}), or set allowDisableDeletionProtection.`);
}

function targetStopped(input: PreflightInput): Check {
  const { config, target } = input;
  if (!target) return skipped('No target cluster.');
  if (target.Status === 'stopped') return passed(`Target cluster ${config.targetClusterIdentifier} is stopped: the pipeline starts it before deleting it, which adds several minutes.`);
  return passed(`Target cluster ${config.targetClusterIdentifier} is ${target.Status ?? 'in an unknown state'}, not stopped.`);
}

/** The secret's problem as a failed check (its messages name the secret and key, never a value). */
async function secretProblem(read: () => Promise<void>): Promise<string | undefined> {
  try {
    await read();
    return undefined;
  } catch (err) {
    if (err instanceof PipelineError && err.name === PipelineErrorName.SECRET_INVALID) return err.message;
    throw err;
  }
}

async function masterSecret(config: PipelineConfig): Promise<Check> {
  const arn = config.restore.masterSecretArn;
  const purpose = 'the master password of the restored cluster';
  const problem = await secretProblem(async () => {
    requireSecretKey(await getSecretJson(arn, purpose), 'password', arn, purpose);
  });
  if (problem) return failed(problem, 'Fix the secret, or the SnapshotCheck role\'s access to it and its key; then run a dry run again.');
  return passed(`Secret ${arn} is readable and has the key "password".`);
}

async function userSecrets(users: DbUserSpec[]): Promise<Check> {
  if (users.length === 0) return skipped('No database users configured.');
  const problems: string[] = [];
  for (const user of users) {
    const purpose = `the database user ${user.username ?? `named by key "${user.usernameKey}"`}`;
    const keys = user.username ? [user.passwordKey] : [user.usernameKey, user.passwordKey];
    const problem = await secretProblem(async () => {
      const value = await getSecretJson(user.secretArn, purpose);
      for (const key of keys) requireSecretKey(value, key, user.secretArn, purpose);
    });
    if (problem) problems.push(problem);
  }
  if (problems.length) {
    return failed(problems.join(' '), 'Fix each secret named (its keys, or the SnapshotCheck role\'s access to it and its key); then run a dry run again.');
  }
  return passed(`The secrets of ${users.length} database user${users.length > 1 ? 's are' : ' is'} readable and have their keys.`);
}
