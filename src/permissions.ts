import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { PipelineTag } from './contracts';
import type { StepKey } from './handlers';
import { acknowledge, acknowledgeWildcardResource } from './nag';
import { copySnapshotNameStart, finalSnapshotNameStart, previousClusterIdentifier, shareSnapshotNameStart, temporaryNameStart } from './names';

/** What the permissions are granted on. */
export interface PermissionTargets {
  /** The value of the pipeline's ownership tag on what it made or owns. */
  readonly pipelineId: string;
  readonly sourceClusterIdentifier: string;
  readonly targetClusterIdentifier: string;
  readonly sourceRegion: string;
  /** Whether a run can copy the snapshot into the stack's region (the source region differs, or is unknown). */
  readonly mayCopy: boolean;
  /** Whether a run can restore straight from a source snapshot (same region, or unknown). */
  readonly mayRestoreFromSource: boolean;
  readonly assumeTargetOwned: boolean;
  /** Whether a failed swap keeps its temporary cluster (tagged) rather than deleting it. */
  readonly retainFailedRestore: boolean;
  readonly writerInstanceIdentifier: string;
  readonly subnetGroupName: string;
  /** The configured cluster parameter group. Default: the engine's default groups only. */
  readonly clusterParameterGroupName?: string;
  readonly stateTable: dynamodb.ITable;
  readonly auditTable: dynamodb.ITable;
  readonly topic: sns.ITopic;
  readonly encryptionKey: kms.IKey;
  readonly snapshotCopyKey: kms.IKey;
  readonly sourceSnapshotKey?: kms.IKey;
  readonly masterSecret: secretsmanager.ISecret;
  readonly userSecrets: secretsmanager.ISecret[];
  /** The source account's side, when the source cluster is in another account (its AuroraRestoreSource). */
  readonly sourceAccount?: SourceAccountTargets;
}

/** What the pipeline uses in the source account (cross-account mode). */
export interface SourceAccountTargets {
  readonly account: string;
  /** The AuroraRestoreSource role the handlers assume. */
  readonly roleArn: string;
  /** The share key the shareable copies are encrypted with (source account, stack's region). */
  readonly shareKeyArn: string;
}

/**
 * Grants each handler what its step needs, scoped to ARNs. IAM is a second wall behind the handlers' own
 * checks, so it does not mirror them:
 * - Delete, modify and tag-removal on clusters, instances and snapshots require the pipeline's ownership
 *   tag on the resource (`aws:ResourceTag`). Only what the pipeline creates carries it (tagged on create, which
 *   IAM allows only with that tag in the request), plus, with `assumeTargetOwned`, the target the pipeline tags
 *   first: its exact ARN and the instances named after it.
 * - Name patterns cover only the pipeline's own prefixes (src/names.ts), never a name of the source.
 * - KMS grants only for AWS resources (RDS), never a grant to a principal.
 * Every wildcard that remains is explained here and acknowledged with the same reason on the function's role.
 */
export function grantStepPermissions(scope: Construct, fns: Record<StepKey, lambda.Function>, t: PermissionTargets): void {
  const stack = Stack.of(scope);
  const rdsArn = (region: string, resource: string, name: string) => stack.formatArn({
    service: 'rds', region, resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const target = stack.region;
  const targetCluster = rdsArn(target, 'cluster', t.targetClusterIdentifier);
  const sourceCluster = rdsArn(t.sourceRegion, 'cluster', t.sourceClusterIdentifier);
  // Snapshot names of the source cluster are not known at deploy time (automated ones are dated, manual ones
  // are named by whoever takes them), and RDS has no condition key for a snapshot's cluster: read, copy and
  // restore them in the source region. Nothing deletes, modifies or tags them.
  const sourceSnapshots = rdsArn(t.sourceRegion, 'cluster-snapshot', '*');
  const copies = rdsArn(target, 'cluster-snapshot', `${copySnapshotNameStart(t.targetClusterIdentifier)}*`);
  const finalSnapshots = rdsArn(target, 'cluster-snapshot', `${finalSnapshotNameStart(t.targetClusterIdentifier)}*`);
  const writer = rdsArn(target, 'db', t.writerInstanceIdentifier);
  // Any instance of the target region, but only under the ownership tag: the writer the pipeline made, or an
  // instance of an adopted target it tagged first.
  const instances = rdsArn(target, 'db', '*');
  // A swap's temporary clusters and their writers (`arp-tmp-<target>-<hash>[-writer]`: the hash is the operation's), and
  // the one name the previous target gets at the cutover.
  const temporaryClusters = rdsArn(target, 'cluster', `${temporaryNameStart(t.targetClusterIdentifier)}*`);
  const temporaryWriters = rdsArn(target, 'db', `${temporaryNameStart(t.targetClusterIdentifier)}*`);
  const previousCluster = rdsArn(target, 'cluster', previousClusterIdentifier(t.targetClusterIdentifier));
  // RDS stores subnet group names in lower case; a name only known at deploy time is left as it is.
  const subnetGroup = rdsArn(target, 'subgrp', Token.isUnresolved(t.subnetGroupName) ? t.subnetGroupName : t.subnetGroupName.toLowerCase());
  // The configured cluster parameter group, else the engine's default ones (named after the snapshot's engine
  // version, known at run time). Instances use the default parameter group; Aurora PostgreSQL's option groups
  // are the defaults.
  const clusterParameterGroup = rdsArn(target, 'cluster-pg', t.clusterParameterGroupName ?? DEFAULT_PARAMETER_GROUPS);
  const parameterGroups = rdsArn(target, 'pg', DEFAULT_PARAMETER_GROUPS);
  const optionGroups = rdsArn(target, 'og', DEFAULT_OPTION_GROUPS);

  const owned = { StringEquals: { [`aws:ResourceTag/${PipelineTag.PIPELINE}`]: t.pipelineId } };
  // Create only with the ownership tag in the request; tag (on create) never over another owner's tag.
  const taggedOnCreate = { StringEquals: { [`aws:RequestTag/${PipelineTag.PIPELINE}`]: t.pipelineId } };
  const tagAsOwn = { ...taggedOnCreate, StringEqualsIfExists: { [`aws:ResourceTag/${PipelineTag.PIPELINE}`]: t.pipelineId } };

  const allow = (fn: lambda.Function, actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>) =>
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources, conditions }));
  // The statements land in the role's default policy, so the acknowledgement goes on the role.
  const ack = (fn: lambda.Function, arn: string, reason: string) => acknowledgeWildcardResource(fn.role!, arn, reason);
  const copyNames = 'Copies are named arp-copy-<target>-<operation id>-<hash>; the operation id is only known at run time. Deleting or tagging one also needs the pipeline\'s ownership tag on it.';
  const temporaryNames = 'A swap restores into arp-tmp-<target>-<hash> with writer arp-tmp-<target>-<hash>-writer; the hash is the operation id\'s, only known at run time. The prefix is reserved (no source or target may start with it), and every change also needs the pipeline\'s ownership tag.';
  const finalNames = 'Final snapshots are named arp-final-<target>-<operation id>-<hash>; the operation id is only known at run time. Deleting one also needs the pipeline\'s ownership tag on it.';

  // Bookkeeping every step does: state item, audit entries.
  for (const fn of Object.values(fns)) {
    // ConditionCheckItem: a redriven execution re-takes its lock in a transaction (lambda-src/lib/lock.ts).
    t.stateTable.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
    t.auditTable.grant(fn, 'dynamodb:PutItem');
    t.encryptionKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
  }

  // 0. Across accounts: the steps that act in the source account assume its AuroraRestoreSource role, that one role only.
  // Everything there is then what that role may do (its own policies, in the source account).
  const cross = t.sourceAccount;
  if (cross) {
    for (const fn of [fns.snapshotCheck, fns.copySnapshot, fns.checkCopyStatus, fns.archiveSnapshot, fns.snsNotification]) {
      allow(fn, ['sts:AssumeRole'], [cross.roleArn]);
    }
  }

  // 1. snapshot check: read the source cluster's snapshots, the target cluster and its tags; lock (state table).
  // Across accounts the source is read as the source account's role.
  if (!cross) {
    allow(fns.snapshotCheck, ['rds:DescribeDBClusterSnapshots', 'rds:DescribeDBClusters', 'rds:ListTagsForResource'], [sourceCluster, sourceSnapshots]);
    ack(fns.snapshotCheck, sourceSnapshots,
      'Snapshot names of the source cluster are unknown at deploy time (automated snapshots are dated); read-only access, scoped to the source region and account.');
  }
  allow(fns.snapshotCheck, ['rds:DescribeDBClusters', 'rds:ListTagsForResource'], [targetCluster]);
  t.stateTable.grant(fns.snapshotCheck, 'dynamodb:DeleteItem');
  grantPreflight(fns.snapshotCheck, t, { subnetGroup, targetSnapshots: rdsArn(target, 'cluster-snapshot', '*') });

  // 2. copy (only when the source region can differ): read the source snapshot, create the copy, tagged as the
  // pipeline's, with the copy key.
  if (t.mayCopy) {
    allow(fns.copySnapshot, ['rds:CopyDBClusterSnapshot'], [sourceSnapshots, copies], taggedOnCreate);
    allow(fns.copySnapshot, ['rds:AddTagsToResource'], [copies], tagAsOwn);
    allow(fns.copySnapshot, ['rds:DescribeDBClusterSnapshots', 'rds:ListTagsForResource'], [copies]);
    grantKeyForRds(fns.copySnapshot, t.snapshotCopyKey);
    grantSourceKey(fns.copySnapshot, t.sourceRegion, t.sourceSnapshotKey);
    ack(fns.copySnapshot, sourceSnapshots,
      'The snapshot to copy is chosen at run time among the source cluster\'s snapshots; the copy reads it, scoped to the source region and account.');
    ack(fns.copySnapshot, copies, copyNames);

    // 3. copy status.
    allow(fns.checkCopyStatus, ['rds:DescribeDBClusterSnapshots'], [copies]);
    ack(fns.checkCopyStatus, copies, copyNames);
  }

  // 4. delete: the target cluster and its instances, only under the ownership tag; a final snapshot with the
  // pipeline's prefix; the older final snapshots it made (retention), under the tag too.
  // The previous target of a swap (arp-prev-<target>) is deleted by the same function, under the same tag.
  allow(fns.deleteRds, ['rds:DescribeDBClusters', 'rds:ListTagsForResource'], [targetCluster, previousCluster]);
  allow(fns.deleteRds, ['rds:ModifyDBCluster', 'rds:DeleteDBCluster', 'rds:StartDBCluster'], [targetCluster, previousCluster], owned);
  allow(fns.deleteRds, ['rds:DescribeDBInstances', 'rds:ListTagsForResource'], [instances]);
  allow(fns.deleteRds, ['rds:DeleteDBInstance'], [instances], owned);
  // The final snapshot does not exist yet when the delete names it: no tag to check, the prefix scopes it.
  allow(fns.deleteRds, ['rds:DeleteDBCluster', 'rds:CreateDBClusterSnapshot'], [finalSnapshots]);
  allow(fns.deleteRds, ['rds:DescribeDBClusterSnapshots', 'rds:ListTagsForResource'], [targetCluster, previousCluster, finalSnapshots]);
  allow(fns.deleteRds, ['rds:DeleteDBClusterSnapshot'], [finalSnapshots], owned);
  // The final snapshot is marked as this operation's once the target is gone, so retention can tell it from others:
  // only one that already carries the ownership tag (copied from the owned cluster: CopyTagsToSnapshot).
  allow(fns.deleteRds, ['rds:AddTagsToResource'], [finalSnapshots], {
    StringEquals: { ...owned.StringEquals, ...taggedOnCreate.StringEquals },
  });
  if (t.assumeTargetOwned) {
    // Taking over a cluster made by hand: the pipeline tags that one target first, and the instances named after
    // it (validation refuses a source those names could cover), with its ownership tag only.
    const adoptedInstances = rdsArn(target, 'db', `${t.targetClusterIdentifier}*`);
    allow(fns.deleteRds, ['rds:AddTagsToResource'], [targetCluster, adoptedInstances], {
      ...tagAsOwn,
      'ForAllValues:StringEquals': { 'aws:TagKeys': [PipelineTag.PIPELINE] },
    });
    ack(fns.deleteRds, adoptedInstances,
      'assumeTargetOwned: the instances of the adopted target, named after it, are tagged as the pipeline\'s before they are deleted; only the ownership tag may be added.');
  }
  ack(fns.deleteRds, instances,
    'Instances of the target cluster: read any, delete only those carrying the pipeline\'s ownership tag (aws:ResourceTag), whatever their names.');
  ack(fns.deleteRds, finalSnapshots, finalNames);

  // 5. restore: the target cluster and its writer, tagged as the pipeline's, from the copy (cross-region) or the
  // source snapshot (same region), in the configured subnet group.
  // Across accounts: the operation's shareable copy in the source account (`arp-share-<target>-…`), nothing else there.
  const sharedCopies = cross
    ? [stack.formatArn({
      service: 'rds',
      region: target,
      account: cross.account,
      resource: 'cluster-snapshot',
      resourceName: `${shareSnapshotNameStart(t.targetClusterIdentifier)}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    })]
    : [];
  const restoreSnapshots = [...(t.mayRestoreFromSource ? [sourceSnapshots] : []), ...(t.mayCopy ? [copies] : []), ...sharedCopies];
  allow(fns.restoreSnapshot, ['rds:RestoreDBClusterFromSnapshot'],
    [targetCluster, temporaryClusters, ...restoreSnapshots, subnetGroup, clusterParameterGroup, optionGroups], taggedOnCreate);
  allow(fns.restoreSnapshot, ['rds:CreateDBInstance'],
    [writer, temporaryWriters, targetCluster, temporaryClusters, subnetGroup, parameterGroups, optionGroups], taggedOnCreate);
  allow(fns.restoreSnapshot, ['rds:AddTagsToResource'], [targetCluster, writer, temporaryClusters, temporaryWriters], tagAsOwn);
  allow(fns.restoreSnapshot, ['rds:ListTagsForResource', 'rds:DescribeDBClusters'], [targetCluster, temporaryClusters]);
  allow(fns.restoreSnapshot, ['rds:ListTagsForResource', 'rds:DescribeDBInstances'], [writer, temporaryWriters]);
  ack(fns.restoreSnapshot, temporaryClusters, temporaryNames);
  ack(fns.restoreSnapshot, temporaryWriters, temporaryNames);
  grantKeyForRds(fns.restoreSnapshot, t.snapshotCopyKey);
  // Restoring in the source region reads the source snapshot's key; from a copy, only the copy key.
  if (t.mayRestoreFromSource) grantSourceKey(fns.restoreSnapshot, t.sourceRegion, t.sourceSnapshotKey);
  // Across accounts RDS decrypts the shared copy with the source account's share key, for this function, through RDS
  // in this region only (the share key's policy admits this account likewise).
  // Given only its alias (the default), IAM cannot name the key (it authorizes on the key's ARN): any key of the source
  // account in this region, through RDS; the share key's policy, admitting this account only to it, is the wall there.
  if (cross) {
    const viaRds = { 'kms:ViaService': `rds.${target}.${stack.urlSuffix}` };
    const shareKey = !cross.shareKeyArn.includes(':alias/')
      ? cross.shareKeyArn
      : stack.formatArn({ service: 'kms', region: target, account: cross.account, resource: 'key', resourceName: '*' });
    allow(fns.restoreSnapshot, ['kms:Decrypt', 'kms:DescribeKey'], [shareKey], { StringEquals: viaRds });
    allow(fns.restoreSnapshot, ['kms:CreateGrant'], [shareKey], { StringEquals: viaRds, ...GRANT_FOR_AWS_RESOURCE });
    if (shareKey !== cross.shareKeyArn) {
      ack(fns.restoreSnapshot, shareKey, 'The source account\'s share key is known by its alias only (set sourceShareKeyArn to a key ARN to name it): any key of '
        + 'that account in this region, used through RDS only; its key policy, which admits this account to the share key alone, decides.');
    }
  }
  const restoreReason = 'Restore reads the snapshot chosen at run time (the copy, the source account\'s shareable copy, or in the source region the source snapshot) and uses the engine\'s default parameter and option groups, named after the snapshot\'s engine version, known at run time.';
  for (const arn of [...restoreSnapshots, clusterParameterGroup, parameterGroups, optionGroups].filter((a) => a.includes('*'))) {
    ack(fns.restoreSnapshot, arn, restoreReason);
  }

  // 6. restore status + master password reset, on the cluster it restored (tagged).
  allow(fns.checkRestoreStatus, ['rds:DescribeDBClusters'], [targetCluster, temporaryClusters]);
  allow(fns.checkRestoreStatus, ['rds:ModifyDBCluster'], [targetCluster, temporaryClusters], owned);
  allow(fns.checkRestoreStatus, ['rds:DescribeDBInstances'], [writer, temporaryWriters]);
  ack(fns.checkRestoreStatus, temporaryClusters, temporaryNames);
  ack(fns.checkRestoreStatus, temporaryWriters, temporaryNames);
  t.masterSecret.grantRead(fns.checkRestoreStatus);

  // 7. database users: the secrets only (the database is reached over the network).
  t.masterSecret.grantRead(fns.setupDbUsers);
  for (const secret of t.userSecrets) secret.grantRead(fns.setupDbUsers);

  // 7b. validation: the master secret only (read-only queries over the network, as the master user).
  t.masterSecret.grantRead(fns.validateRestore);
  // 7c. cutover (swap): read the three names; rename (ModifyDBCluster) only owned clusters among them: the target
  // away, the temporary cluster in, the previous target back on a rollback. IAM authorizes a rename on the cluster
  // renamed, not on the new name: the handler picks the names, the reserved prefixes keep them off anyone else's. The
  // target is marked as this operation's previous target first (that tag key only).
  allow(fns.cutover, ['rds:DescribeDBClusters', 'rds:ListTagsForResource'], [targetCluster, temporaryClusters, previousCluster]);
  allow(fns.cutover, ['rds:ModifyDBCluster'], [targetCluster, temporaryClusters, previousCluster], owned);
  allow(fns.cutover, ['rds:AddTagsToResource'], [targetCluster], {
    ...owned, 'ForAllValues:StringEquals': { 'aws:TagKeys': [PipelineTag.PREVIOUS_TARGET] },
  });
  ack(fns.cutover, temporaryClusters, temporaryNames);

  // 8. archive: only the copies this pipeline made: delete, or tag as retained, under the ownership tag.
  if (t.mayCopy) grantSettleCopy(fns.archiveSnapshot, copies, owned, copyNames);

  // 9. notification: publish, read the audit trail for durations, release the lock; on the failure path, delete
  // (or retain and tag) the copy this operation made, like archive. Settling a stopped or timed-out execution
  // (from EventBridge) needs nothing more: it reads the lock item (GetItem, above) and does the same.
  // EventBridge's own right to invoke the function is the rule target's resource policy, not this role's.
  t.topic.grantPublish(fns.snsNotification);
  t.auditTable.grant(fns.snsNotification, 'dynamodb:Query');
  t.stateTable.grant(fns.snsNotification, 'dynamodb:DeleteItem');
  // A stopped execution's state may not say whether a copy was made: settling looks for one by name. Across accounts the
  // copy is in the source account, released as its role.
  if (!cross) grantSettleCopy(fns.snsNotification, copies, owned, copyNames);
  // After a swap failed before its cutover: delete (or with retainFailedRestore tag) the operation's temporary cluster and writer.
  allow(fns.snsNotification, ['rds:DescribeDBClusters', 'rds:ListTagsForResource'], [targetCluster, temporaryClusters, previousCluster]);
  allow(fns.snsNotification, ['rds:DescribeDBInstances', 'rds:ListTagsForResource'], [temporaryWriters]);
  if (t.retainFailedRestore) {
    allow(fns.snsNotification, ['rds:AddTagsToResource'], [temporaryClusters], {
      ...owned, 'ForAllValues:StringEquals': { 'aws:TagKeys': [PipelineTag.FAILED_RESTORE] },
    });
  } else {
    allow(fns.snsNotification, ['rds:DeleteDBCluster'], [temporaryClusters], owned);
    allow(fns.snsNotification, ['rds:DeleteDBInstance'], [temporaryWriters], owned);
  }
  ack(fns.snsNotification, temporaryClusters, temporaryNames);
  ack(fns.snsNotification, temporaryWriters, temporaryNames);
}

/**
 * The preflight's reads (lambda-src/lib/preflight.ts), all read-only: the subnet group, the keys, the secrets, the
 * snapshots copying into the target region; and three actions IAM cannot scope to a resource.
 */
function grantPreflight(fn: lambda.Function, t: PermissionTargets, arns: { subnetGroup: string; targetSnapshots: string }) {
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBSubnetGroups'], resources: [arns.subnetGroup] }));
  // Copies in flight into the target region: any manual snapshot there may be one (other pipelines', by hand).
  if (t.mayCopy) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBClusterSnapshots'], resources: [arns.targetSnapshots] }));
    acknowledgeWildcardResource(fn.role!, arns.targetSnapshots,
      'The preflight counts the cluster snapshot copies in flight into the target region (at most 5 per region and account), whoever made them; read-only, scoped to the target region and account.');
  }
  // DescribeAccountAttributes (quotas), DescribeDBEngineVersions and ec2:DescribeSecurityGroups have no resource type.
  fn.addToRolePolicy(new iam.PolicyStatement({
    actions: ['rds:DescribeAccountAttributes', 'rds:DescribeDBEngineVersions', 'ec2:DescribeSecurityGroups'],
    resources: ['*'],
  }));
  acknowledgeWildcardResource(fn.role!, '*',
    'rds:DescribeAccountAttributes, rds:DescribeDBEngineVersions and ec2:DescribeSecurityGroups support no resource-level permissions (resource "*" only); all three are read-only, used by the preflight.');
  t.snapshotCopyKey.grant(fn, 'kms:DescribeKey');
  // Across accounts the source key is used by the source account's role, and the share key described as that role.
  if (!t.sourceAccount) grantDescribeSourceKey(fn, t);
  t.masterSecret.grantRead(fn);
  for (const secret of t.userSecrets) secret.grantRead(fn);
}

/** The preflight describes the source snapshot's key (same account). */
function grantDescribeSourceKey(fn: lambda.Function, t: PermissionTargets) {
  const stack = Stack.of(fn);
  if (t.sourceSnapshotKey) {
    t.sourceSnapshotKey.grant(fn, 'kms:DescribeKey');
  } else {
    // The source snapshot's key is only known at run time; describing a key reveals only its metadata.
    const keys = stack.formatArn({ service: 'kms', region: t.sourceRegion, resource: 'key', resourceName: '*' });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [keys] }));
    acknowledgeWildcardResource(fn.role!, keys,
      'The preflight describes the source snapshot\'s KMS key, only known at run time (kms:DescribeKey: metadata only), in the source region. Set sourceSnapshotKey to scope it to one key.');
  }
}

/** Engine default parameter groups of Aurora PostgreSQL (`default.aurora-postgresql16`). */
const DEFAULT_PARAMETER_GROUPS = 'default.aurora-postgresql*';
/** Engine default option groups of Aurora PostgreSQL (`default:aurora-postgresql-16`). */
const DEFAULT_OPTION_GROUPS = 'default:aurora-postgresql*';

/** Delete the operation's copy, or tag it as retained (that tag only), both under the ownership tag. */
function grantSettleCopy(fn: lambda.Function, copies: string, owned: Record<string, Record<string, unknown>>, reason: string) {
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DescribeDBClusterSnapshots', 'rds:ListTagsForResource'], resources: [copies] }));
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:DeleteDBClusterSnapshot'], resources: [copies], conditions: owned }));
  fn.addToRolePolicy(new iam.PolicyStatement({
    actions: ['rds:AddTagsToResource'],
    resources: [copies],
    conditions: { ...owned, 'ForAllValues:StringEquals': { 'aws:TagKeys': [PipelineTag.RETAINED] } },
  }));
  acknowledgeWildcardResource(fn.role!, copies, reason);
}

/** What RDS needs on a KMS key to encrypt a copy or a restored cluster with it: a grant for the service. */
function grantKeyForRds(fn: lambda.Function, key: kms.IKey) {
  key.grant(fn, 'kms:DescribeKey');
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:CreateGrant'], resources: [key.keyArn], conditions: GRANT_FOR_AWS_RESOURCE }));
}

/** A grant RDS makes for itself on the caller's behalf, never one the caller hands to a principal. */
const GRANT_FOR_AWS_RESOURCE = { Bool: { 'kms:GrantIsForAWSResource': 'true' } };

/**
 * What RDS needs on the source snapshot's key. With a known customer key: that key. Otherwise the key is only
 * known at run time (it may be the `aws/rds` key or any customer key of the source region), so the grant is on
 * the source region's keys, and only when RDS is the caller.
 */
function grantSourceKey(fn: lambda.Function, sourceRegion: string, key?: kms.IKey) {
  if (key) {
    grantKeyForRds(fn, key);
    return;
  }
  const stack = Stack.of(fn);
  const keys = stack.formatArn({ service: 'kms', region: sourceRegion, resource: 'key', resourceName: '*' });
  const viaRds = { StringEquals: { 'kms:ViaService': `rds.${sourceRegion}.${stack.urlSuffix}` } };
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [keys], conditions: viaRds }));
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:CreateGrant'], resources: [keys], conditions: { ...viaRds, ...GRANT_FOR_AWS_RESOURCE } }));
  acknowledgeWildcardResource(fn.role!, keys,
    'The source snapshot\'s KMS key is only known at run time; the grant is limited to keys of the source region used through RDS (kms:ViaService). Set sourceSnapshotKey to scope it to one key.');
}

/**
 * The notification function may ask Step Functions whether an execution of this state machine runs again (a late
 * ABORTED or TIMED_OUT event after a redrive). A separate policy, attached after the state machine exists: the
 * function's role cannot name the state machine in its default policy, which the function (and so the state
 * machine) depends on.
 */
export function grantDescribeOwnExecutions(scope: Construct, fn: lambda.Function, stateMachineArn: string): void {
  const stack = Stack.of(scope);
  const name = stack.splitArn(stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName!;
  const executions = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const policy = new iam.Policy(scope, 'DescribeExecutionsPolicy', {
    statements: [new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] })],
  });
  fn.role!.attachInlinePolicy(policy);
  const inline = 'One read-only statement of the notification function\'s role, scoped to this state machine\'s executions; never shared with another principal.';
  acknowledge(policy, {
    'NIST.800.53.R5-IAMNoInlinePolicy': inline,
    'HIPAA.Security-IAMNoInlinePolicy': inline,
    'PCI.DSS.321-IAMNoInlinePolicy': inline,
  });
  acknowledgeWildcardResource(policy, executions,
    'Execution names are chosen at run time; read-only access to the executions of this pipeline\'s state machine only.');
}
