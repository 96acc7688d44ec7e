import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { StepKey } from './handlers';
import { acknowledge, acknowledgeWildcardResource } from './nag';

/** What the permissions are granted on. */
export interface PermissionTargets {
  readonly sourceClusterIdentifier: string;
  readonly targetClusterIdentifier: string;
  readonly sourceRegion: string;
  readonly writerInstanceIdentifier: string;
  readonly subnetGroupName: string;
  readonly stateTable: dynamodb.ITable;
  readonly auditTable: dynamodb.ITable;
  readonly topic: sns.ITopic;
  readonly encryptionKey: kms.IKey;
  readonly snapshotCopyKey: kms.IKey;
  readonly sourceSnapshotKey?: kms.IKey;
  readonly masterSecret: secretsmanager.ISecret;
  readonly userSecrets: secretsmanager.ISecret[];
}

/**
 * Grants each handler exactly what its step needs, scoped to ARNs. Every wildcard that remains is
 * explained here and acknowledged with the same reason on the function's role.
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
  // are named by whoever takes them), and RDS has no condition key for a snapshot's cluster: scope them to the
  // account and the source region.
  const sourceSnapshots = rdsArn(t.sourceRegion, 'cluster-snapshot', '*');
  // Snapshots this pipeline creates: copies `<target>-<operation>` and final snapshots `<target>-final-<operation>`.
  const ownSnapshots = rdsArn(target, 'cluster-snapshot', `${t.targetClusterIdentifier}-*`);
  // Instances of the target cluster: the writer this pipeline creates is `<target>-writer`; instances of an
  // adopted cluster must carry the cluster identifier as prefix (the CDK's and the console's convention).
  const targetInstances = rdsArn(target, 'db', `${t.targetClusterIdentifier}*`);
  const writer = rdsArn(target, 'db', t.writerInstanceIdentifier);
  // RDS stores subnet group names in lower case; a name only known at deploy time is left as it is.
  const subnetGroup = rdsArn(target, 'subgrp', Token.isUnresolved(t.subnetGroupName) ? t.subnetGroupName : t.subnetGroupName.toLowerCase());
  // Parameter and option groups: the restored cluster and its writer use the engine's default groups (named after
  // the engine version, which comes from the snapshot) unless one is configured.
  const clusterParameterGroups = rdsArn(target, 'cluster-pg', '*');
  const parameterGroups = rdsArn(target, 'pg', '*');
  const optionGroups = rdsArn(target, 'og', '*');

  const allow = (fn: lambda.Function, actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>) =>
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources, conditions }));
  // The statements land in the role's default policy, so the acknowledgement goes on the role.
  const ack = (fn: lambda.Function, arn: string, reason: string) => acknowledgeWildcardResource(fn.role!, arn, reason);

  // Bookkeeping every step does: state item, audit entries.
  for (const fn of Object.values(fns)) {
    // ConditionCheckItem: a redriven execution re-takes its lock in a transaction (lambda-src/lib/lock.ts).
    t.stateTable.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
    t.auditTable.grant(fn, 'dynamodb:PutItem');
    t.encryptionKey.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
  }

  // 1. snapshot check: read the source cluster's snapshots, the target cluster and its tags; lock (state table).
  allow(fns.snapshotCheck, ['rds:DescribeDBClusterSnapshots', 'rds:DescribeDBClusters', 'rds:ListTagsForResource'], [sourceCluster, sourceSnapshots]);
  allow(fns.snapshotCheck, ['rds:DescribeDBClusters', 'rds:ListTagsForResource'], [targetCluster]);
  t.stateTable.grant(fns.snapshotCheck, 'dynamodb:DeleteItem');
  ack(fns.snapshotCheck, sourceSnapshots,
    'Snapshot names of the source cluster are unknown at deploy time (automated snapshots are dated); read-only access, scoped to the source region and account.');

  // 2. copy: read the source snapshot, create the copy (tagged) in the target region with the copy key.
  allow(fns.copySnapshot, ['rds:CopyDBClusterSnapshot'], [sourceSnapshots, ownSnapshots]);
  allow(fns.copySnapshot, ['rds:AddTagsToResource', 'rds:DescribeDBClusterSnapshots', 'rds:ListTagsForResource'], [ownSnapshots]);
  grantKeyForRds(fns.copySnapshot, t.snapshotCopyKey);
  grantSourceKey(fns.copySnapshot, t.sourceRegion, t.sourceSnapshotKey);
  ack(fns.copySnapshot, sourceSnapshots,
    'The snapshot to copy is chosen at run time among the source cluster\'s snapshots; scoped to the source region and account.');
  ack(fns.copySnapshot, ownSnapshots,
    'Copies are named <target>-<operation id>; the operation id is only known at run time.');

  // 3. copy status.
  allow(fns.checkCopyStatus, ['rds:DescribeDBClusterSnapshots'], [ownSnapshots]);
  ack(fns.checkCopyStatus, ownSnapshots,
    'Copies are named <target>-<operation id>; the operation id is only known at run time.');

  // 4. delete: only the target cluster and its instances, optionally with a final snapshot.
  allow(fns.deleteRds, ['rds:DescribeDBClusters', 'rds:ListTagsForResource', 'rds:ModifyDBCluster', 'rds:DeleteDBCluster'], [targetCluster]);
  // A stopped target is started before it is deleted (RDS deletes no stopped cluster); its final snapshots are listed
  // (name free, retention).
  allow(fns.deleteRds, ['rds:StartDBCluster', 'rds:DescribeDBClusterSnapshots'], [targetCluster]);
  allow(fns.deleteRds, ['rds:DescribeDBClusterSnapshots', 'rds:ListTagsForResource'], [ownSnapshots]);
  allow(fns.deleteRds, ['rds:DescribeDBInstances', 'rds:DeleteDBInstance', 'rds:ListTagsForResource'], [targetInstances]);
  allow(fns.deleteRds, ['rds:DeleteDBCluster', 'rds:CreateDBClusterSnapshot', 'rds:AddTagsToResource'], [ownSnapshots]);
  ack(fns.deleteRds, targetInstances,
    'The instances of the target cluster: named with the cluster identifier as prefix; the handler deletes only members of the owned target cluster.');
  ack(fns.deleteRds, ownSnapshots,
    'Final snapshots are named <target>-final-<operation id>; the operation id is only known at run time.');

  // 5. restore: the target cluster and its writer, from the snapshot, in the configured subnet group.
  allow(fns.restoreSnapshot, ['rds:RestoreDBClusterFromSnapshot'],
    [targetCluster, sourceSnapshots, ownSnapshots, subnetGroup, clusterParameterGroups, optionGroups].filter(uniq));
  allow(fns.restoreSnapshot, ['rds:CreateDBInstance'], [writer, targetCluster, subnetGroup, parameterGroups, optionGroups]);
  allow(fns.restoreSnapshot, ['rds:AddTagsToResource', 'rds:ListTagsForResource', 'rds:DescribeDBClusters'], [targetCluster]);
  allow(fns.restoreSnapshot, ['rds:AddTagsToResource', 'rds:ListTagsForResource', 'rds:DescribeDBInstances'], [writer]);
  grantKeyForRds(fns.restoreSnapshot, t.snapshotCopyKey);
  grantSourceKey(fns.restoreSnapshot, t.sourceRegion, t.sourceSnapshotKey);
  for (const arn of [sourceSnapshots, ownSnapshots, clusterParameterGroups, parameterGroups, optionGroups]) {
    ack(fns.restoreSnapshot, arn,
      'Restore reads the snapshot chosen at run time and uses the default parameter and option groups of the snapshot\'s engine version, whose names are only known at run time.');
  }

  // 6. restore status + master password reset.
  allow(fns.checkRestoreStatus, ['rds:DescribeDBClusters', 'rds:ModifyDBCluster'], [targetCluster]);
  allow(fns.checkRestoreStatus, ['rds:DescribeDBInstances'], [writer]);
  t.masterSecret.grantRead(fns.checkRestoreStatus);

  // 7. database users: the secrets only (the database is reached over the network).
  t.masterSecret.grantRead(fns.setupDbUsers);
  for (const secret of t.userSecrets) secret.grantRead(fns.setupDbUsers);

  // 8. archive: only the copies this pipeline made.
  allow(fns.archiveSnapshot, ['rds:DescribeDBClusterSnapshots', 'rds:DeleteDBClusterSnapshot', 'rds:AddTagsToResource', 'rds:ListTagsForResource'], [ownSnapshots]);
  ack(fns.archiveSnapshot, ownSnapshots,
    'Copies are named <target>-<operation id>; the operation id is only known at run time. The handler also checks the operation tag.');

  // 9. notification: publish, read the audit trail for durations, release the lock; on the failure path, delete
  // (or retain and tag) the copy this operation made, like archive. Settling a stopped or timed-out execution
  // (from EventBridge) needs nothing more: it reads the lock item (GetItem, above) and does the same.
  // EventBridge's own right to invoke the function is the rule target's resource policy, not this role's.
  t.topic.grantPublish(fns.snsNotification);
  t.auditTable.grant(fns.snsNotification, 'dynamodb:Query');
  t.stateTable.grant(fns.snsNotification, 'dynamodb:DeleteItem');
  allow(fns.snsNotification, ['rds:DescribeDBClusterSnapshots', 'rds:DeleteDBClusterSnapshot', 'rds:AddTagsToResource', 'rds:ListTagsForResource'], [ownSnapshots]);
  ack(fns.snsNotification, ownSnapshots,
    'On a failed, stopped or timed-out run, the copy this operation made is cleaned up; copies are named <target>-<operation id>, only known at run time. The handler also checks the operation tag.');
}

function uniq<T>(v: T, i: number, a: T[]): boolean {
  return a.indexOf(v) === i;
}

/** What RDS needs on a KMS key to encrypt a copy or a restored cluster with it: a grant for the service. */
function grantKeyForRds(fn: lambda.Function, key: kms.IKey) {
  key.grant(fn, 'kms:CreateGrant', 'kms:DescribeKey');
}

/**
 * What RDS needs on the source snapshot's key. With a known customer key: that key. Otherwise the key is only
 * known at run time (it may be the `aws/rds` key or any customer key of the source region), so the grant is on
 * the source region's keys, and only when RDS is the caller.
 */
function grantSourceKey(fn: lambda.Function, sourceRegion: string, key?: kms.IKey) {
  if (key) {
    key.grant(fn, 'kms:CreateGrant', 'kms:DescribeKey');
    return;
  }
  const stack = Stack.of(fn);
  const keys = stack.formatArn({ service: 'kms', region: sourceRegion, resource: 'key', resourceName: '*' });
  fn.addToRolePolicy(new iam.PolicyStatement({
    actions: ['kms:CreateGrant', 'kms:DescribeKey'],
    resources: [keys],
    conditions: { StringEquals: { 'kms:ViaService': `rds.${sourceRegion}.${stack.urlSuffix}` } },
  }));
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
