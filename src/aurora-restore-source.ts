import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { PipelineTag } from './contracts';
import { acknowledge, acknowledgeWildcardResource } from './nag';
import { reservedPrefixOf, SHARE_SNAPSHOT_PREFIX, sourceAccessName } from './names';
import { CLUSTER_ID, REGION } from './validation';

/** Properties of an {@link AuroraRestoreSource}. */
export interface AuroraRestoreSourceProps {
  /**
   * Identifier of the production (source) cluster in this account whose snapshots the pipeline restores.
   * Its automated snapshots (`rds:<cluster>-<yyyy-mm-dd-hh-mm>`) may be read and copied.
   */
  readonly sourceClusterIdentifier: string;

  /** The AWS account id the pipeline (`AuroraRestorePipeline`) runs in, trusted to assume the role. */
  readonly pipelineAccount: string;

  /**
   * ARNs of the pipeline's roles allowed to assume the role, instead of every principal of the pipeline's
   * account that the account's own IAM policies let assume it.
   *
   * @default - the pipeline's account (its IAM policies decide which of its principals may assume the role)
   */
  readonly pipelineRoleArns?: string[];

  /**
   * Region of the source cluster. Deploy this construct in the pipeline's region (of the source account): the
   * shareable copies and the key they are encrypted with live there, since a shared cluster snapshot can only
   * be copied or restored in its own region.
   *
   * @default - the stack's region (source and pipeline in the same region)
   */
  readonly sourceRegion?: string;

  /**
   * The customer-managed KMS key the source cluster's snapshots are encrypted with, to scope the copy's grant
   * to that one key.
   *
   * @default - the snapshot's key is found at run time: the role may have RDS use any key of the source region
   * (`kms:ViaService`), which covers the `aws/rds` key and any customer key whose key policy defers to IAM
   */
  readonly sourceSnapshotKey?: kms.IKey;

  /**
   * Start of the names of manual snapshots of the source cluster the pipeline may also read and copy (a manual
   * snapshot's ARN does not name its cluster, so IAM can only scope it by name).
   *
   * @default - none: only the source cluster's automated snapshots
   */
  readonly manualSnapshotPrefix?: string;
}

/**
 * The source account's side of a restore across accounts. Deploy it in the account of the production cluster,
 * in the pipeline's region. It creates:
 *
 * - a role the pipeline's account (or roles) may assume, allowed to read the source cluster's snapshots, copy one
 *   into a shareable copy named `arp-share-*` and tagged as this source's, share and delete only such copies;
 * - a customer-managed KMS key (rotation on) the shareable copies are re-encrypted with (snapshots on the
 *   `aws/rds` key cannot be shared), which the pipeline's account may use through RDS in this region only.
 *
 * The pipeline side (assuming the role, the share and copy flow, cleanup) is still to come: see
 * docs/cross-account.md.
 */
export class AuroraRestoreSource extends Construct {
  /** The role the pipeline assumes in this account. */
  readonly role: iam.Role;
  /** The key shareable copies are re-encrypted with before they are shared with the pipeline's account. */
  readonly shareKey: kms.Key;
  /** ARN of {@link role}: give it to the pipeline. */
  readonly roleArn: string;
  /** ARN of {@link shareKey}. */
  readonly shareKeyArn: string;
  /**
   * Name of {@link role}, and of the share key's alias (`alias/<name>`): `arp-source-<cluster>-<hash>`, which the
   * pipeline computes from its own account and region and the source cluster, so it needs only `sourceAccount`.
   * Undefined when the pipeline's account or this stack's region is a token: then CloudFormation names the role,
   * the key has no alias, and the pipeline must be given `sourceRoleArn` and `sourceShareKeyArn`.
   */
  readonly accessName?: string;
  /** The value of the `aurora-restore-pipeline:share-of` tag every shareable copy must carry. */
  readonly shareTagValue: string;

  constructor(scope: Construct, id: string, props: AuroraRestoreSourceProps) {
    super(scope, id);
    validate(props);
    const stack = Stack.of(this);
    const sourceRegion = props.sourceRegion ?? stack.region;
    const cluster = lower(props.sourceClusterIdentifier);
    this.shareTagValue = cluster;

    const rdsArn = (region: string, resource: string, name: string) =>
      stack.formatArn({ service: 'rds', region, resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const sourceCluster = rdsArn(sourceRegion, 'cluster', cluster);
    // `?` matches one character: `rds:prod-????-??-??-??-??` does not cover `rds:prod-aurora-2026-...`.
    const automated = rdsArn(sourceRegion, 'cluster-snapshot', `rds:${cluster}-????-??-??-??-??`);
    const manual = props.manualSnapshotPrefix ? [rdsArn(sourceRegion, 'cluster-snapshot', `${props.manualSnapshotPrefix}*`)] : [];
    const sourceSnapshots = [automated, ...manual];
    const shares = rdsArn(stack.region, 'cluster-snapshot', `${SHARE_SNAPSHOT_PREFIX}*`);
    const shareTag = `aws:ResourceTag/${PipelineTag.SHARE_OF}`;
    const requestTag = { StringEquals: { [`aws:RequestTag/${PipelineTag.SHARE_OF}`]: cluster } };

    const pipelinePrincipal = props.pipelineRoleArns && props.pipelineRoleArns.length > 0
      ? new iam.CompositePrincipal(...props.pipelineRoleArns.map((arn) => new iam.ArnPrincipal(arn)))
      : new iam.AccountPrincipal(props.pipelineAccount);

    // A name both sides can compute (see sourceAccessName), so the pipeline needs only the source account.
    const named = [props.pipelineAccount, stack.region, props.sourceClusterIdentifier].every((v) => !Token.isUnresolved(v));
    this.accessName = !named
      ? undefined
      : sourceAccessName(props.sourceClusterIdentifier, props.pipelineAccount, stack.region);

    this.shareKey = new kms.Key(this, 'ShareKey', {
      alias: this.accessName ? `alias/${this.accessName}` : undefined,
      description: `Re-encrypts snapshots of ${props.sourceClusterIdentifier} before they are shared with account ${props.pipelineAccount}`,
      enableKeyRotation: true,
    });
    const viaRds = { 'kms:ViaService': `rds.${stack.region}.${stack.urlSuffix}`, 'kms:CallerAccount': props.pipelineAccount };
    this.shareKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'PipelineAccountUsesTheKeyThroughRds',
      principals: [new iam.AccountPrincipal(props.pipelineAccount)],
      actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
      resources: ['*'],
      conditions: { StringEquals: viaRds },
    }));
    this.shareKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'PipelineAccountLetsRdsHoldGrants',
      principals: [new iam.AccountPrincipal(props.pipelineAccount)],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { StringEquals: viaRds, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));

    this.role = new iam.Role(this, 'Role', {
      roleName: this.accessName,
      assumedBy: pipelinePrincipal,
      description: `Assumed by the restore pipeline of account ${props.pipelineAccount} to share snapshots of ${props.sourceClusterIdentifier}`,
    });
    const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>) =>
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));

    // The pipeline reads the source's engine and encryption before it copies (an unencrypted copy could be shared with anyone).
    allow('DescribeSourceCluster', ['rds:DescribeDBClusters'], [sourceCluster]);
    allow('FindSourceSnapshots', ['rds:DescribeDBClusterSnapshots'], [sourceCluster, ...sourceSnapshots, shares]);
    allow('ReadShareableCopies', ['rds:DescribeDBClusterSnapshotAttributes', 'rds:ListTagsForResource'], [shares]);
    allow('CopyFromSourceSnapshot', ['rds:CopyDBClusterSnapshot'], sourceSnapshots, requestTag);
    // Another source's shareable copy carries its own tag: it is not a source of this role's copies.
    allow('CopyIntoShareableCopy', ['rds:CopyDBClusterSnapshot'], [shares], { ...requestTag, StringEqualsIfExists: { [shareTag]: cluster } });
    allow('TagShareableCopyOnCreate', ['rds:AddTagsToResource'], [shares], { ...requestTag, StringEqualsIfExists: { [shareTag]: cluster } });
    // IAM has no condition key on the accounts being added: the key policy is the wall (see docs/cross-account.md).
    allow('ShareOwnCopies', ['rds:ModifyDBClusterSnapshotAttribute'], [shares], { StringEquals: { [shareTag]: cluster } });
    allow('DeleteOwnCopies', ['rds:DeleteDBClusterSnapshot'], [shares], { StringEquals: { [shareTag]: cluster } });

    const grantForRds = { Bool: { 'kms:GrantIsForAWSResource': 'true' } };
    allow('DescribeShareKey', ['kms:DescribeKey'], [this.shareKey.keyArn]);
    allow('RdsGrantOnShareKey', ['kms:CreateGrant'], [this.shareKey.keyArn], grantForRds);
    if (props.sourceSnapshotKey) {
      allow('DescribeSourceKey', ['kms:DescribeKey'], [props.sourceSnapshotKey.keyArn]);
      allow('RdsGrantOnSourceKey', ['kms:CreateGrant'], [props.sourceSnapshotKey.keyArn], grantForRds);
    } else {
      const keys = stack.formatArn({ service: 'kms', region: sourceRegion, resource: 'key', resourceName: '*' });
      const viaSourceRds = { StringEquals: { 'kms:ViaService': `rds.${sourceRegion}.${stack.urlSuffix}` } };
      allow('DescribeSourceKey', ['kms:DescribeKey'], [keys], viaSourceRds);
      allow('RdsGrantOnSourceKey', ['kms:CreateGrant'], [keys], { ...viaSourceRds, ...grantForRds });
      acknowledgeWildcardResource(this.role, keys,
        'The source snapshot\'s KMS key is only known at run time; the grant is limited to keys of the source region used through RDS (kms:ViaService) and to grants for RDS. Set sourceSnapshotKey to scope it to one key.');
    }

    acknowledgeWildcardResource(this.role, shares,
      'Shareable copies are named arp-share-<...> at run time; sharing, deleting or copying into one also needs the share-of tag with this source cluster, which only this role sets.');
    for (const arn of manual) {
      acknowledgeWildcardResource(this.role, arn,
        'Manual snapshots of the source cluster are chosen by name at run time; their ARN does not name the cluster, so the prefix the user gave (manualSnapshotPrefix) is the scope.');
    }
    const inline = 'The inline policy holds the least-privilege grants of this one role, scoped to ARNs and tags; it is never shared with another principal.';
    acknowledge(this.role, {
      'NIST.800.53.R5-IAMNoInlinePolicy': inline,
      'HIPAA.Security-IAMNoInlinePolicy': inline,
      'PCI.DSS.321-IAMNoInlinePolicy': inline,
    });
    this.roleArn = this.role.roleArn;
    this.shareKeyArn = this.shareKey.keyArn;
  }
}

function lower(name: string): string {
  return Token.isUnresolved(name) ? name : name.toLowerCase();
}

function validate(props: AuroraRestoreSourceProps): void {
  const id = props.sourceClusterIdentifier;
  if (!Token.isUnresolved(id) && (!CLUSTER_ID.test(id) || id.endsWith('-'))) {
    throw new Error(`AuroraRestoreSource: sourceClusterIdentifier "${id}" is not a valid RDS cluster identifier; give the production cluster's identifier (letters, digits, single hyphens, starting with a letter).`);
  }
  if (props.sourceRegion !== undefined && !Token.isUnresolved(props.sourceRegion) && !REGION.test(props.sourceRegion)) {
    throw new Error(`AuroraRestoreSource: sourceRegion "${props.sourceRegion}" is not an AWS region name; use a region such as 'us-east-1', or leave it out for the stack's region.`);
  }
  const names: Array<[string, string | undefined]> = [['sourceClusterIdentifier', props.sourceClusterIdentifier], ['manualSnapshotPrefix', props.manualSnapshotPrefix]];
  for (const [prop, value] of names) {
    if (value === undefined || Token.isUnresolved(value)) continue;
    const reserved = reservedPrefixOf(value);
    if (reserved) throw new Error(`AuroraRestoreSource: ${prop} "${value}" starts with ${reserved}, a prefix the pipeline reserves for what it makes; choose another name.`);
  }
  if (props.manualSnapshotPrefix !== undefined && !Token.isUnresolved(props.manualSnapshotPrefix) && props.manualSnapshotPrefix.length < 3) {
    throw new Error(`AuroraRestoreSource: manualSnapshotPrefix "${props.manualSnapshotPrefix}" is shorter than 3 characters and would cover other clusters' manual snapshots; give the start of the source cluster's manual snapshot names.`);
  }
  if (!Token.isUnresolved(props.pipelineAccount) && !/^\d{12}$/.test(props.pipelineAccount)) {
    throw new Error(`AuroraRestoreSource: pipelineAccount "${props.pipelineAccount}" is not a 12-digit AWS account id; give the account the pipeline is deployed in.`);
  }
  for (const arn of props.pipelineRoleArns ?? []) {
    if (Token.isUnresolved(arn) || Token.isUnresolved(props.pipelineAccount)) continue;
    if (!new RegExp(`^arn:[^:]+:iam::${props.pipelineAccount}:role/.+`).test(arn)) {
      throw new Error(`AuroraRestoreSource: pipelineRoleArns: "${arn}" is not a role of the pipeline's account ${props.pipelineAccount}; give the ARNs of the pipeline's roles.`);
    }
  }
}
