/*
 * IAM alone stops what the pipeline must never do. Requests against the source cluster, its instances and its
 * snapshots, an unrelated cluster, clusters sharing the target's prefix, and the target without this pipeline's
 * ownership tag are evaluated with @cloud-copilot/iam-simulate against every function's role in the synthesized
 * template: each must be denied by every role. Controls, what the pipeline does need, must be allowed by the
 * role of the step that does it, so the suite cannot pass by denying everything.
 *
 * The same-region stack's target `prod` is a prefix of its source `prod-aurora` (the names that a pattern like
 * `db:prod*` or `cluster-snapshot:prod-*` would cover).
 */
import * as fs from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { copySnapshotIdentifier, finalSnapshotIdentifier, shareSnapshotIdentifier, temporaryClusterIdentifier, temporaryWriterIdentifier } from '../../lambda-src/lib/naming';
import { AuroraRestorePipeline, AuroraRestorePipelineProps, AuroraRestoreSource, PipelineTag } from '../../src';
import { PIPELINE_CONFIG_ENV, type PipelineConfig } from '../../src/contracts';
import { previousClusterIdentifier } from '../../src/names';
import { importedVpc } from '../construct/stacks';
import { decideAs, keyPolicies, policiesOfRole, TemplateIam, type IamDecision, type IamRequest } from '../support/iam-policies';
import { TemplateResolver, type CfnTemplate } from '../support/template';

const ACCOUNT = '123456789012';
const TARGET_REGION = 'eu-west-1';
const SOURCE_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;

interface Pipeline {
  readonly iam: TemplateIam;
  readonly config: PipelineConfig;
}

function synth(props: Partial<AuroraRestorePipelineProps>): Pipeline {
  const stack = new Stack(new App(), 'Iam', { env: { account: ACCOUNT, region: TARGET_REGION } });
  new AuroraRestorePipeline(stack, 'Restore', {
    sourceClusterIdentifier: 'prod-aurora',
    targetClusterIdentifier: 'prod',
    vpc: importedVpc(stack),
    ...props,
    ...(props.sourceRegion && !props.sourceAccount ? { sourceSnapshotKey: kms.Key.fromKeyArn(stack, 'SourceKey', SOURCE_KEY) } : {}),
  });
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const resolver = new TemplateResolver(template, { region: TARGET_REGION, account: ACCOUNT });
  const iam = new TemplateIam(template, resolver);
  const fn = template.Resources[[...iam.roles.keys()][0]];
  const config = JSON.parse(resolver.resolveString(fn.Properties!.Environment.Variables[PIPELINE_CONFIG_ENV])) as PipelineConfig;
  return { iam, config };
}

const rds = (region: string, type: string, name: string) => `arn:aws:rds:${region}:${ACCOUNT}:${type}:${name}`;

/** Every way to change a resource of this type: deletes, modifications, reboots, and tagging as the pipeline's. */
function changesTo(region: string, type: 'cluster' | 'db' | 'cluster-snapshot', name: string, tags: Record<string, string>, pipelineId: string): IamRequest[] {
  const resource = rds(region, type, name);
  const actions = {
    'cluster': ['rds:DeleteDBCluster', 'rds:ModifyDBCluster', 'rds:RebootDBCluster', 'rds:StopDBCluster', 'rds:StartDBCluster', 'rds:FailoverDBCluster'],
    'db': ['rds:DeleteDBInstance', 'rds:ModifyDBInstance', 'rds:RebootDBInstance', 'rds:StopDBInstance'],
    'cluster-snapshot': ['rds:DeleteDBClusterSnapshot', 'rds:ModifyDBClusterSnapshotAttribute'],
  }[type];
  return [
    ...actions.map((action) => ({ action, resource, resourceTags: tags })),
    { action: 'rds:AddTagsToResource', resource, resourceTags: tags, requestTags: { [PipelineTag.PIPELINE]: pipelineId } },
    { action: 'rds:AddTagsToResource', resource, resourceTags: tags, requestTags: { [PipelineTag.RETAINED]: 'true' } },
    { action: 'rds:RemoveTagsFromResource', resource, resourceTags: tags, requestTagKeys: Object.keys(tags).length ? Object.keys(tags) : ['env'] },
  ];
}

/** What no role of the pipeline may do, in a stack whose source is in `sourceRegion`. */
function forbidden(p: Pipeline, sourceRegion: string, assumeTargetOwned: boolean): Array<[string, IamRequest]> {
  const id = p.config.pipelineId;
  const t = TARGET_REGION;
  const s = sourceRegion;
  const ours = { [PipelineTag.PIPELINE]: id };
  const foreign = { [PipelineTag.PIPELINE]: 'SomeOtherPipeline' };
  const cases: Array<[string, IamRequest[]]> = [
    ['the source cluster', changesTo(s, 'cluster', 'prod-aurora', { env: 'prod' }, id)],
    ['the source cluster, untagged', changesTo(s, 'cluster', 'prod-aurora', {}, id)],
    ['a source instance', changesTo(s, 'db', 'prod-aurora-instance-1', { env: 'prod' }, id)],
    ['a source instance named like the CDK names them', changesTo(s, 'db', 'prod-aurorainstance1', {}, id)],
    ['a source instance named after the target', changesTo(s, 'db', 'prod-instance-1', {}, id)],
    ['a manual snapshot of the source', changesTo(s, 'cluster-snapshot', 'prod-aurora-manual-2026-11-01', {}, id)],
    ['an automated snapshot of the source', changesTo(s, 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10', {}, id)],
    ['a final snapshot of the source', changesTo(s, 'cluster-snapshot', 'prod-aurora-final-snapshot', {}, id)],
    ['a source snapshot named like the old final snapshots', changesTo(s, 'cluster-snapshot', 'prod-final-nightly', {}, id)],
    ['an unrelated cluster', changesTo(t, 'cluster', 'billing-db', {}, id)],
    ['an unrelated instance', changesTo(t, 'db', 'billing-db-instance-1', {}, id)],
    ['a cluster sharing the target\'s prefix', changesTo(t, 'cluster', 'prod-2', {}, id)],
    ['a cluster sharing the target\'s prefix, of another pipeline', changesTo(t, 'cluster', 'production', foreign, id)],
    ['the target without the ownership tag', changesTo(t, 'cluster', 'prod', {}, id).filter((r) => r.action !== 'rds:AddTagsToResource' || !r.requestTags?.[PipelineTag.PIPELINE])],
    ['the target owned by another pipeline', changesTo(t, 'cluster', 'prod', foreign, id).filter((r) => r.action !== 'rds:AddTagsToResource' || !r.requestTags?.[PipelineTag.PIPELINE])],
    ['the target\'s writer without the ownership tag', changesTo(t, 'db', 'prod-writer', {}, id).filter((r) => r.action !== 'rds:AddTagsToResource' || !r.requestTags?.[PipelineTag.PIPELINE])],
    // With assumeTargetOwned, tagging it as the pipeline's is the point (the construct refuses a source it could cover).
    ['an instance named after the target, untagged', changesTo(t, 'db', 'prod-instance-1', {}, id)
      .filter((r) => !assumeTargetOwned || r.action !== 'rds:AddTagsToResource' || !r.requestTags?.[PipelineTag.PIPELINE])],
    ['an instance named after the target, of another pipeline', changesTo(t, 'db', 'prod-instance-1', foreign, id)],
    ['a final snapshot name of this pipeline that it did not make', changesTo(t, 'cluster-snapshot', finalSnapshotIdentifier('prod', 'x'), {}, id)],
    ['a copy name of this pipeline made by another pipeline', changesTo(t, 'cluster-snapshot', copySnapshotIdentifier('prod', 'x'), foreign, id)],
    ['another pipeline\'s copy sharing the prefix', changesTo(t, 'cluster-snapshot', copySnapshotIdentifier('prod-aurora', 'x'), foreign, id)],
    // A swap's names: only what carries this pipeline's tag may be renamed, modified or deleted.
    ['a temporary cluster name without the ownership tag', changesTo(t, 'cluster', temporaryClusterIdentifier('prod', 'x'), {}, id)
      .filter((r) => r.action !== 'rds:AddTagsToResource' || !r.requestTags?.[PipelineTag.PIPELINE])],
    ['another pipeline\'s temporary cluster sharing the prefix', changesTo(t, 'cluster', temporaryClusterIdentifier('production', 'x'), foreign, id)],
    ['a temporary writer name of another pipeline', changesTo(t, 'db', temporaryWriterIdentifier('prod', 'x'), foreign, id)],
    ['the previous-target name, owned by another pipeline', changesTo(t, 'cluster', previousClusterIdentifier('prod'), foreign, id)],
    ['the previous-target name, untagged', changesTo(t, 'cluster', previousClusterIdentifier('prod'), {}, id)],
  ];
  const out = cases.flatMap(([what, requests]) => requests.map((r): [string, IamRequest] => [what, r]));
  out.push(
    ['the source renamed (or modified) as the previous target would be', { action: 'rds:ModifyDBCluster', resource: rds(s, 'cluster', 'prod-aurora'), resourceTags: ours }],
    ['restore over the source cluster', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(s, 'cluster', 'prod-aurora'), requestTags: ours }],
    ['restore over an unrelated cluster', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster', 'billing-db'), requestTags: ours }],
    ['an instance in the source cluster', { action: 'rds:CreateDBInstance', resource: rds(s, 'cluster', 'prod-aurora'), requestTags: ours }],
    ['a snapshot of the source cluster', { action: 'rds:CreateDBClusterSnapshot', resource: rds(s, 'cluster', 'prod-aurora'), requestTags: ours }],
    ['a grant on the copy key for a principal', { action: 'kms:CreateGrant', resource: p.config.snapshotCopyKeyArn, context: { 'kms:GrantIsForAWSResource': 'false' } }],
    ['a grant on a source key for a principal', {
      action: 'kms:CreateGrant', resource: SOURCE_KEY, context: { 'kms:GrantIsForAWSResource': 'false', 'kms:ViaService': `rds.${s}.amazonaws.com` },
    }],
  );
  return out;
}

/** What a step must be allowed (controls) or denied although another role may do it. */
type Control = [string, string, IamRequest, 'Allowed' | 'ImplicitlyDenied'];

function controls(p: Pipeline, crossRegion: boolean, assumeTargetOwned: boolean): Control[] {
  const id = p.config.pipelineId;
  const t = TARGET_REGION;
  const ours = { [PipelineTag.PIPELINE]: id };
  const keyGrant = { action: 'kms:CreateGrant', resource: p.config.snapshotCopyKeyArn, context: { 'kms:GrantIsForAWSResource': 'true', 'kms:ViaService': `rds.${t}.amazonaws.com` } };
  const out: Control[] = [
    ['DeleteRds', 'deletes the owned target', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'Allowed'],
    ['DeleteRds', 'turns off deletion protection of the owned target', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'Allowed'],
    ['DeleteRds', 'names its final snapshot', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster-snapshot', finalSnapshotIdentifier('prod', 'op-1')) }, 'Allowed'],
    ['DeleteRds', 'deletes the writer it made', { action: 'rds:DeleteDBInstance', resource: rds(t, 'db', 'prod-writer'), resourceTags: ours }, 'Allowed'],
    ['DeleteRds', 'deletes a tagged instance of an adopted target', { action: 'rds:DeleteDBInstance', resource: rds(t, 'db', 'staging-1'), resourceTags: ours }, 'Allowed'],
    ['DeleteRds', 'deletes an older final snapshot it made', { action: 'rds:DeleteDBClusterSnapshot', resource: rds(t, 'cluster-snapshot', finalSnapshotIdentifier('prod', 'op-0')), resourceTags: ours }, 'Allowed'],
    ['DeleteRds', `${assumeTargetOwned ? 'may' : 'cannot'} tag the target (assumeTargetOwned ${assumeTargetOwned})`,
      { action: 'rds:AddTagsToResource', resource: rds(t, 'cluster', 'prod'), requestTags: ours }, assumeTargetOwned ? 'Allowed' : 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'restores the target, tagged', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster', 'prod'), requestTags: ours }, 'Allowed'],
    ['RestoreSnapshot', 'cannot restore the target untagged', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster', 'prod') }, 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'creates the writer, tagged', { action: 'rds:CreateDBInstance', resource: rds(t, 'db', 'prod-writer'), requestTags: ours }, 'Allowed'],
    ['RestoreSnapshot', 'cannot create another instance', { action: 'rds:CreateDBInstance', resource: rds(t, 'db', 'prod-reader'), requestTags: ours }, 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'uses the engine\'s default cluster parameter group', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster-pg', 'default.aurora-postgresql16'), requestTags: ours }, 'Allowed'],
    ['RestoreSnapshot', 'no other cluster parameter group', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster-pg', 'prod-params'), requestTags: ours }, 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'grants RDS the copy key', keyGrant, 'Allowed'],
    ['CheckRestoreStatus', 'resets the master password of the owned target', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'Allowed'],
    ['CheckRestoreStatus', 'not of an unowned target', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: {} }, 'ImplicitlyDenied'],
    ['ValidateRestore', 'reads the master secret', { action: 'secretsmanager:GetSecretValue', resource: p.config.restore.masterSecretArn }, 'Allowed'],
    ['ValidateRestore', 'changes no cluster, not even an owned one', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'ImplicitlyDenied'],
    ['ValidateRestore', 'deletes no cluster', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'ImplicitlyDenied'],
    ['SnapshotCheck', 'preflight: describes the subnet group', { action: 'rds:DescribeDBSubnetGroups', resource: rds(t, 'subgrp', p.config.restore.subnetGroupName.toLowerCase()) }, 'Allowed'],
    ['SnapshotCheck', 'preflight: no other subnet group', { action: 'rds:DescribeDBSubnetGroups', resource: rds(t, 'subgrp', 'billing') }, 'ImplicitlyDenied'],
    ['SnapshotCheck', 'preflight: reads the account\'s quotas', { action: 'rds:DescribeAccountAttributes', resource: '*' }, 'Allowed'],
    ['SnapshotCheck', 'preflight: describes the copy key', { action: 'kms:DescribeKey', resource: p.config.snapshotCopyKeyArn }, 'Allowed'],
    ['SnapshotCheck', 'preflight: reads the master secret', { action: 'secretsmanager:GetSecretValue', resource: p.config.restore.masterSecretArn }, 'Allowed'],
    ['CopySnapshot', 'cannot read the account\'s quotas (only the preflight does)', { action: 'rds:DescribeAccountAttributes', resource: '*' }, 'ImplicitlyDenied'],
    ['Cutover', 'renames the owned target away', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'Allowed'],
    ['Cutover', 'renames the owned temporary cluster in', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', temporaryClusterIdentifier('prod', 'op-1')), resourceTags: ours }, 'Allowed'],
    ['Cutover', 'renames the owned previous target back (rollback)', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', previousClusterIdentifier('prod')), resourceTags: ours }, 'Allowed'],
    ['Cutover', 'cannot rename an unowned target', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: {} }, 'ImplicitlyDenied'],
    ['Cutover', 'cannot rename an owned cluster of another name', { action: 'rds:ModifyDBCluster', resource: rds(t, 'cluster', 'prod-2'), resourceTags: ours }, 'ImplicitlyDenied'],
    ['Cutover', 'cannot delete the target', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'ImplicitlyDenied'],
    ['Cutover', 'marks the owned target as the previous target', {
      action: 'rds:AddTagsToResource', resource: rds(t, 'cluster', 'prod'), resourceTags: ours, requestTags: { [PipelineTag.PREVIOUS_TARGET]: 'op-1' },
    }, 'Allowed'],
    ['Cutover', 'no other tag', { action: 'rds:AddTagsToResource', resource: rds(t, 'cluster', 'prod'), resourceTags: ours, requestTags: ours }, 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'restores a temporary cluster, tagged', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster', temporaryClusterIdentifier('prod', 'op-1')), requestTags: ours }, 'Allowed'],
    ['RestoreSnapshot', 'creates its writer, tagged', { action: 'rds:CreateDBInstance', resource: rds(t, 'db', temporaryWriterIdentifier('prod', 'op-1')), requestTags: ours }, 'Allowed'],
    ['DeleteRds', 'retires the owned previous target', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster', previousClusterIdentifier('prod')), resourceTags: ours }, 'Allowed'],
    ['SnsNotification', 'deletes the owned temporary cluster after a failure', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster', temporaryClusterIdentifier('prod', 'op-1')), resourceTags: ours }, 'Allowed'],
    ['SnsNotification', 'and its writer', { action: 'rds:DeleteDBInstance', resource: rds(t, 'db', temporaryWriterIdentifier('prod', 'op-1')), resourceTags: ours }, 'Allowed'],
    ['SnsNotification', 'never the target', { action: 'rds:DeleteDBCluster', resource: rds(t, 'cluster', 'prod'), resourceTags: ours }, 'ImplicitlyDenied'],
    ['SnsNotification', 'deletes this pipeline\'s copy', { action: 'rds:DeleteDBClusterSnapshot', resource: rds(t, 'cluster-snapshot', copySnapshotIdentifier('prod', 'op-1')), resourceTags: ours }, 'Allowed'],
    ['SnsNotification', 'tags it as retained', {
      action: 'rds:AddTagsToResource', resource: rds(t, 'cluster-snapshot', copySnapshotIdentifier('prod', 'op-1')), resourceTags: ours, requestTags: { [PipelineTag.RETAINED]: 'true' },
    }, 'Allowed'],
  ];
  if (crossRegion) {
    const source = 'us-east-1';
    const copy = rds(t, 'cluster-snapshot', copySnapshotIdentifier('prod', 'op-1'));
    out.push(
      ['CopySnapshot', 'copies a source snapshot', { action: 'rds:CopyDBClusterSnapshot', resource: rds(source, 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }, 'Allowed'],
      ['CopySnapshot', 'into a copy, tagged', { action: 'rds:CopyDBClusterSnapshot', resource: copy, requestTags: ours }, 'Allowed'],
      ['CopySnapshot', 'not untagged', { action: 'rds:CopyDBClusterSnapshot', resource: copy }, 'ImplicitlyDenied'],
      ['CopySnapshot', 'grants RDS the source key', {
        action: 'kms:CreateGrant', resource: SOURCE_KEY, context: { 'kms:GrantIsForAWSResource': 'true', 'kms:ViaService': `rds.${source}.amazonaws.com` },
      }, 'Allowed'],
      ['RestoreSnapshot', 'restores from the copy', { action: 'rds:RestoreDBClusterFromSnapshot', resource: copy, requestTags: ours }, 'Allowed'],
      ['RestoreSnapshot', 'not from a source snapshot', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(source, 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }, 'ImplicitlyDenied'],
      ['RestoreSnapshot', 'no grant on the source key', {
        action: 'kms:CreateGrant', resource: SOURCE_KEY, context: { 'kms:GrantIsForAWSResource': 'true', 'kms:ViaService': `rds.${source}.amazonaws.com` },
      }, 'ImplicitlyDenied'],
      ['ArchiveSnapshot', 'deletes this pipeline\'s copy', { action: 'rds:DeleteDBClusterSnapshot', resource: copy, resourceTags: ours }, 'Allowed'],
      ['ArchiveSnapshot', 'cannot tag a copy as the pipeline\'s', { action: 'rds:AddTagsToResource', resource: copy, resourceTags: {}, requestTags: ours }, 'ImplicitlyDenied'],
    );
  } else {
    out.push(
      ['RestoreSnapshot', 'restores from a source snapshot', { action: 'rds:RestoreDBClusterFromSnapshot', resource: rds(t, 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }, 'Allowed'],
      ['CopySnapshot', 'no copy in the same region', { action: 'rds:CopyDBClusterSnapshot', resource: rds(t, 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }, 'ImplicitlyDenied'],
    );
  }
  return out;
}

/** Counts of this file, written to $IAM_REPORT (JSON lines) when set. */
const counts = { forbiddenTried: 0, forbiddenDenied: 0, controlsTried: 0, controlsAsExpected: 0 };
afterAll(() => {
  if (process.env.IAM_REPORT) fs.appendFileSync(process.env.IAM_REPORT, `${JSON.stringify({ suite: 'forbidden', ...counts })}\n`);
});

describe.each<[string, Partial<AuroraRestorePipelineProps>, string]>([
  ['same region, target prod a prefix of source prod-aurora', {}, TARGET_REGION],
  ['cross-region, source prod-aurora in us-east-1', { sourceRegion: 'us-east-1' }, 'us-east-1'],
  ['cross-region, assumeTargetOwned', { sourceRegion: 'us-east-1', assumeTargetOwned: true }, 'us-east-1'],
])('%s', (_name, props, sourceRegion) => {
  const p = synth(props);

  test('every forbidden request is denied by every role', async () => {
    const allowed: string[] = [];
    const requests = forbidden(p, sourceRegion, props.assumeTargetOwned ?? false);
    expect(requests.length).toBeGreaterThan(100);
    for (const [what, request] of requests) {
      for (const fnId of p.iam.roles.keys()) {
        const decision = await p.iam.decide(fnId, request);
        counts.forbiddenTried++;
        if (decision === 'Allowed') allowed.push(`${fnId}: ${request.action} on ${request.resource} (${what}) ${JSON.stringify(request)}`);
        else counts.forbiddenDenied++;
      }
    }
    expect(allowed).toEqual([]);
  }, 120_000);

  test('controls: each step may do what it needs, and not beside it', async () => {
    const wrong: string[] = [];
    for (const [step, what, request, expected] of controls(p, sourceRegion !== TARGET_REGION, props.assumeTargetOwned ?? false)) {
      const decision = await p.iam.decide(p.iam.functionId(step), request);
      counts.controlsTried++;
      if (decision === expected) counts.controlsAsExpected++;
      else wrong.push(`${step} ${what}: ${request.action} on ${request.resource} is ${decision}, expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('assumeTargetOwned: the pipeline tags that one target first', () => {
  const p = synth({ sourceRegion: 'us-east-1', assumeTargetOwned: true });
  const deleteRds = p.iam.functionId('DeleteRds');
  const ours = { [PipelineTag.PIPELINE]: p.config.pipelineId };

  test.each<[string, IamRequest, string]>([
    ['the target cluster, with the ownership tag only', { action: 'rds:AddTagsToResource', resource: rds(TARGET_REGION, 'cluster', 'prod'), requestTags: ours }, 'Allowed'],
    ['an instance named after it', { action: 'rds:AddTagsToResource', resource: rds(TARGET_REGION, 'db', 'prod-instance-1'), requestTags: ours }, 'Allowed'],
    ['not with another tag', { action: 'rds:AddTagsToResource', resource: rds(TARGET_REGION, 'cluster', 'prod'), requestTags: { ...ours, env: 'x' } }, 'ImplicitlyDenied'],
    ['not another cluster', { action: 'rds:AddTagsToResource', resource: rds(TARGET_REGION, 'cluster', 'prod-2'), requestTags: ours }, 'ImplicitlyDenied'],
    ['not an instance of another name', { action: 'rds:AddTagsToResource', resource: rds(TARGET_REGION, 'db', 'billing-1'), requestTags: ours }, 'ImplicitlyDenied'],
  ])('%s', async (_what, request, expected) => {
    expect(await p.iam.decide(deleteRds, request)).toBe(expected);
  });
});

/*
 * Across accounts: the pipeline (account B = ACCOUNT) restores from an AuroraRestoreSource in account A. The pipeline's
 * roles may assume that one role (only the five steps that act in A), restore only from its `arp-share-<target>-` copies
 * in A, and use A's share key only through RDS; the companion role, with the policies of its own template, allows
 * exactly the calls the handlers make as it, and nothing on other clusters' snapshots.
 */
describe('a source in another account (AuroraRestoreSource in 111111111111)', () => {
  const A = '111111111111';
  const sourceStack = new Stack(new App(), 'Source', { env: { account: A, region: TARGET_REGION } });
  const companion = new AuroraRestoreSource(sourceStack, 'RestoreSource', { sourceClusterIdentifier: 'prod-aurora', sourceRegion: 'us-east-1', pipelineAccount: ACCOUNT });
  const sourceTemplate = Template.fromStack(sourceStack).toJSON() as CfnTemplate;
  const sourceResolver = new TemplateResolver(sourceTemplate, { region: TARGET_REGION, account: A });
  const roleArn = sourceResolver.resolveString(sourceStack.resolve(companion.roleArn));
  const shareKeyArn = sourceResolver.resolveString(sourceStack.resolve(companion.shareKeyArn));
  const sourceKeys = keyPolicies(sourceTemplate, sourceResolver);
  const roleId = Object.keys(sourceTemplate.Resources).find((id) => sourceTemplate.Resources[id].Type === 'AWS::IAM::Role')!;
  const asCompanion = (r: IamRequest) => decideAs(roleArn, policiesOfRole(sourceTemplate, sourceResolver, roleId), r, sourceKeys, A);

  const p = synth({ sourceRegion: 'us-east-1', sourceAccount: A, sourceRoleArn: roleArn, sourceShareKeyArn: shareKeyArn });
  const sharedWithPipelineAccount = (resource: string) => ({
    Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'rds:*', Resource: resource }],
  });
  const trustsPipelineAccount = {
    Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
  };
  const trustPolicy = sourceResolver.resolve(sourceTemplate.Resources[roleId].Properties!.AssumeRolePolicyDocument);
  // Each request also asks A's side: the companion role's trust policy for AssumeRole (any other role is given one
  // that trusts account B, so only the pipeline's own policies can refuse it), the share key's policy from the source
  // template for KMS, and for a snapshot of another account a share with B (acting as its resource policy), so that
  // only the pipeline's own policies can refuse it.
  const asPipeline = (fnId: string, r: IamRequest) => {
    const role = p.iam.roles.get(fnId)!;
    const resourcePolicy = r.action === 'sts:AssumeRole' ? (r.resource === roleArn ? trustPolicy : trustsPipelineAccount)
      : r.action.startsWith('rds:') && !r.resource.includes(`:${ACCOUNT}:`) ? sharedWithPipelineAccount(r.resource) : undefined;
    const request = { ...r, ...(resourcePolicy ? { resourcePolicy } : {}), ...(r.action.startsWith('kms:') ? { context: { 'kms:CallerAccount': ACCOUNT, ...r.context } } : {}) };
    return decideAs(role.roleArn, role.policies, request, sourceKeys, ACCOUNT);
  };
  const inA = (region: string, type: string, name: string) => `arn:aws:rds:${region}:${A}:${type}:${name}`;
  const share = inA(TARGET_REGION, 'cluster-snapshot', shareSnapshotIdentifier('prod', 'op-1'));
  const ours = { [PipelineTag.PIPELINE]: p.config.pipelineId };
  const viaRds = { 'kms:ViaService': `rds.${TARGET_REGION}.amazonaws.com` };

  test('the configuration carries the three ARNs and the account shares go to', () => {
    expect(p.config).toMatchObject({ sourceAccount: A, sourceRoleArn: roleArn, sourceShareKeyArn: shareKeyArn, pipelineAccount: ACCOUNT });
  });

  test('no role may assume another role, restore from another snapshot, or use the share key outside RDS', async () => {
    const requests: Array<[string, IamRequest]> = [
      ['another role of A', { action: 'sts:AssumeRole', resource: `arn:aws:iam::${A}:role/Admin` }],
      ['a role of the pipeline\'s account', { action: 'sts:AssumeRole', resource: `arn:aws:iam::${ACCOUNT}:role/Admin` }],
      ['a role of a third account', { action: 'sts:AssumeRole', resource: 'arn:aws:iam::222222222222:role/RestoreSourceRole' }],
      ['a shareable copy of a third account', { action: 'rds:RestoreDBClusterFromSnapshot', resource: `arn:aws:rds:${TARGET_REGION}:222222222222:cluster-snapshot:${shareSnapshotIdentifier('prod', 'op-1')}`, requestTags: ours }],
      ['an automated snapshot of A', { action: 'rds:RestoreDBClusterFromSnapshot', resource: inA(TARGET_REGION, 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }],
      ['a source snapshot in A\'s source region', { action: 'rds:RestoreDBClusterFromSnapshot', resource: inA('us-east-1', 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }],
      ['a manual snapshot of A', { action: 'rds:RestoreDBClusterFromSnapshot', resource: inA(TARGET_REGION, 'cluster-snapshot', 'prod-aurora-manual-1'), requestTags: ours }],
      ['another target\'s shareable copy in A', { action: 'rds:RestoreDBClusterFromSnapshot', resource: inA(TARGET_REGION, 'cluster-snapshot', shareSnapshotIdentifier('billing', 'op-1')), requestTags: ours }],
      ['a shareable copy in another region of A', { action: 'rds:RestoreDBClusterFromSnapshot', resource: inA('us-east-1', 'cluster-snapshot', shareSnapshotIdentifier('prod', 'op-1')), requestTags: ours }],
      ['the shareable copy itself, changed', { action: 'rds:DeleteDBClusterSnapshot', resource: share, resourceTags: ours }],
      ['the shareable copy, shared on', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: share, resourceTags: ours }],
      ['a source snapshot of A copied directly', { action: 'rds:CopyDBClusterSnapshot', resource: inA('us-east-1', 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }],
      ['the share key, decrypting directly', { action: 'kms:Decrypt', resource: shareKeyArn }],
      ['the share key, a grant for a principal', { action: 'kms:CreateGrant', resource: shareKeyArn, context: { ...viaRds, 'kms:GrantIsForAWSResource': 'false' } }],
      ['the share key, through RDS of another region', { action: 'kms:Decrypt', resource: shareKeyArn, context: { 'kms:ViaService': 'rds.us-east-1.amazonaws.com' } }],
      ['the share key, administered', { action: 'kms:ScheduleKeyDeletion', resource: shareKeyArn }],
    ];
    const allowed: string[] = [];
    for (const [what, request] of requests) {
      for (const fnId of p.iam.roles.keys()) {
        const decision = await asPipeline(fnId, request);
        counts.forbiddenTried++;
        if (decision === 'Allowed') allowed.push(`${fnId}: ${request.action} on ${request.resource} (${what})`);
        else counts.forbiddenDenied++;
      }
    }
    expect(allowed).toEqual([]);
  }, 120_000);

  test('the pipeline\'s roles: the usual forbidden list holds too (same source cluster name in the source region)', async () => {
    const allowed: string[] = [];
    for (const [what, request] of forbidden(p, 'us-east-1', false)) {
      for (const fnId of p.iam.roles.keys()) {
        if (await p.iam.decide(fnId, request) === 'Allowed') allowed.push(`${fnId}: ${request.action} on ${request.resource} (${what})`);
      }
    }
    expect(allowed).toEqual([]);
  }, 120_000);

  test.each<[string, string, IamRequest, IamDecision]>([
    ['SnapshotCheck', 'assumes the source role', { action: 'sts:AssumeRole', resource: roleArn }, 'Allowed'],
    ['CopySnapshot', 'assumes the source role', { action: 'sts:AssumeRole', resource: roleArn }, 'Allowed'],
    ['CheckCopyStatus', 'assumes the source role', { action: 'sts:AssumeRole', resource: roleArn }, 'Allowed'],
    ['ArchiveSnapshot', 'assumes the source role', { action: 'sts:AssumeRole', resource: roleArn }, 'Allowed'],
    ['SnsNotification', 'assumes the source role', { action: 'sts:AssumeRole', resource: roleArn }, 'Allowed'],
    ['RestoreSnapshot', 'does not assume it', { action: 'sts:AssumeRole', resource: roleArn }, 'ImplicitlyDenied'],
    ['DeleteRds', 'does not assume it', { action: 'sts:AssumeRole', resource: roleArn }, 'ImplicitlyDenied'],
    ['SetupDbUsers', 'does not assume it', { action: 'sts:AssumeRole', resource: roleArn }, 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'restores from the shareable copy in A', { action: 'rds:RestoreDBClusterFromSnapshot', resource: share, requestTags: ours }, 'Allowed'],
    ['RestoreSnapshot', 'not untagged', { action: 'rds:RestoreDBClusterFromSnapshot', resource: share }, 'ImplicitlyDenied'],
    ['RestoreSnapshot', 'lets RDS decrypt with the share key', { action: 'kms:Decrypt', resource: shareKeyArn, context: viaRds }, 'Allowed'],
    ['RestoreSnapshot', 'and grant itself on it', { action: 'kms:CreateGrant', resource: shareKeyArn, context: { ...viaRds, 'kms:GrantIsForAWSResource': 'true' } }, 'Allowed'],
    ['RestoreSnapshot', 'and describe it', { action: 'kms:DescribeKey', resource: shareKeyArn, context: viaRds }, 'Allowed'],
    ['CopySnapshot', 'copies nothing in its own account', { action: 'rds:CopyDBClusterSnapshot', resource: rds(TARGET_REGION, 'cluster-snapshot', copySnapshotIdentifier('prod', 'op-1')), requestTags: ours }, 'ImplicitlyDenied'],
    ['SnapshotCheck', 'reads no source snapshot with its own role', { action: 'rds:DescribeDBClusterSnapshots', resource: inA('us-east-1', 'cluster', 'prod-aurora') }, 'ImplicitlyDenied'],
  ])('control: %s %s', async (step, _what, request, expected) => {
    expect(await asPipeline(p.iam.functionId(step), request)).toBe(expected);
  });

  // What the handlers send as the companion role (lambda-src/snapshot-check, copy-snapshot, check-copy-status,
  // archive-snapshot, sns-notification, lib/preflight), and what it must refuse them.
  const sourceSnapshot = inA('us-east-1', 'cluster-snapshot', 'rds:prod-aurora-2026-11-29-03-10');
  const shareTag = { [PipelineTag.SHARE_OF]: 'prod-aurora' };
  const copyTags = { ...ours, [PipelineTag.OPERATION_ID]: 'op-1', [PipelineTag.SOURCE_SNAPSHOT]: 'rds:prod-aurora-2026-11-29-03-10', ...shareTag };
  test.each<[string, IamRequest, IamDecision]>([
    ['lists the source cluster\'s snapshots', { action: 'rds:DescribeDBClusterSnapshots', resource: inA('us-east-1', 'cluster', 'prod-aurora') }, 'Allowed'],
    ['describes a source snapshot by name', { action: 'rds:DescribeDBClusterSnapshots', resource: sourceSnapshot }, 'Allowed'],
    ['copies it', { action: 'rds:CopyDBClusterSnapshot', resource: sourceSnapshot, requestTags: copyTags }, 'Allowed'],
    ['into the shareable copy', { action: 'rds:CopyDBClusterSnapshot', resource: share, requestTags: copyTags }, 'Allowed'],
    ['tagged on create', { action: 'rds:AddTagsToResource', resource: share, requestTags: copyTags }, 'Allowed'],
    ['grants RDS the share key for the copy', { action: 'kms:CreateGrant', resource: shareKeyArn, context: { ...viaRds, 'kms:GrantIsForAWSResource': 'true' } }, 'Allowed'],
    ['describes the share key (preflight)', { action: 'kms:DescribeKey', resource: shareKeyArn }, 'Allowed'],
    ['describes the copy', { action: 'rds:DescribeDBClusterSnapshots', resource: share }, 'Allowed'],
    ['reads its share', { action: 'rds:DescribeDBClusterSnapshotAttributes', resource: share }, 'Allowed'],
    ['shares and unshares it', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: share, resourceTags: copyTags }, 'Allowed'],
    ['deletes it', { action: 'rds:DeleteDBClusterSnapshot', resource: share, resourceTags: copyTags }, 'Allowed'],
    ['not another cluster\'s snapshot', { action: 'rds:CopyDBClusterSnapshot', resource: inA('us-east-1', 'cluster-snapshot', 'rds:billing-2026-11-29-03-10'), requestTags: copyTags }, 'ImplicitlyDenied'],
    ['not another cluster\'s snapshots listed', { action: 'rds:DescribeDBClusterSnapshots', resource: inA('us-east-1', 'cluster', 'billing') }, 'ImplicitlyDenied'],
    ['not another source\'s shareable copy', { action: 'rds:DeleteDBClusterSnapshot', resource: share, resourceTags: { [PipelineTag.SHARE_OF]: 'billing' } }, 'ImplicitlyDenied'],
    ['never the source snapshot shared', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: sourceSnapshot, resourceTags: shareTag }, 'ImplicitlyDenied'],
    ['never the source snapshot deleted', { action: 'rds:DeleteDBClusterSnapshot', resource: sourceSnapshot, resourceTags: shareTag }, 'ImplicitlyDenied'],
  ])('the companion role: %s', async (_what, request, expected) => {
    expect(await asCompanion(request)).toBe(expected);
  });
});

describe('a source in another account, given only sourceAccount (the companion\'s default names)', () => {
  const A = '111111111111';
  const sourceStack = new Stack(new App(), 'Source', { env: { account: A, region: TARGET_REGION } });
  const companion = new AuroraRestoreSource(sourceStack, 'RestoreSource', { sourceClusterIdentifier: 'prod-aurora', pipelineAccount: ACCOUNT });
  const sourceTemplate = Template.fromStack(sourceStack).toJSON() as CfnTemplate;
  const sourceResolver = new TemplateResolver(sourceTemplate, { region: TARGET_REGION, account: A });
  const roleId = Object.keys(sourceTemplate.Resources).find((id) => sourceTemplate.Resources[id].Type === 'AWS::IAM::Role')!;
  const trustPolicy = sourceResolver.resolve(sourceTemplate.Resources[roleId].Properties!.AssumeRolePolicyDocument);
  const shareKeyArn = sourceResolver.resolveString(sourceStack.resolve(companion.shareKeyArn));
  const p = synth({ sourceAccount: A });
  const decide = (step: string, r: IamRequest) => {
    const role = p.iam.roles.get(p.iam.functionId(step))!;
    return decideAs(role.roleArn, role.policies, r, keyPolicies(sourceTemplate, sourceResolver), ACCOUNT);
  };

  test('the configured role is the companion\'s, and the share key is its alias', () => {
    expect(p.config.sourceRoleArn).toBe(`arn:aws:iam::${A}:role/${companion.accessName}`);
    expect(p.config.sourceShareKeyArn).toBe(`arn:aws:kms:${TARGET_REGION}:${A}:alias/${companion.accessName}`);
  });

  test.each<[string, string, IamRequest, IamDecision]>([
    ['SnapshotCheck', 'assumes the companion role', { action: 'sts:AssumeRole', resource: `arn:aws:iam::${A}:role/${companion.accessName}` }, 'Allowed'],
    ['RestoreSnapshot', 'lets RDS decrypt with the share key', {
      action: 'kms:Decrypt', resource: shareKeyArn, context: { 'kms:ViaService': `rds.${TARGET_REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT },
    }, 'Allowed'],
    ['RestoreSnapshot', 'not directly', { action: 'kms:Decrypt', resource: shareKeyArn, context: { 'kms:CallerAccount': ACCOUNT } }, 'ImplicitlyDenied'],
  ])('%s %s', async (step, _what, request, expected) => {
    expect(await decide(step, request.action === 'sts:AssumeRole' ? { ...request, resourcePolicy: trustPolicy } : request)).toBe(expected);
  });
});
