/*
 * AuroraRestoreSource, the source account's side of a restore across accounts: its template (trust policy, each
 * statement's resources and conditions, the share key's policy), cdk-nag, and the IAM simulation of its role and
 * key (@cloud-copilot/iam-simulate): what the role and the pipeline's account may do, and what they may not.
 */
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { AuroraRestoreSource, AuroraRestoreSourceProps, PipelineTag } from '../../src';
import { sourceAccessName } from '../../src/names';
import { decideAs, keyPolicies, policiesOfRole, type IamDecision, type IamRequest, type PolicyDocument } from '../support/iam-policies';
import { TemplateResolver, type CfnTemplate } from '../support/template';

const SOURCE_ACCOUNT = '111111111111';
const PIPELINE_ACCOUNT = '222222222222';
const OTHER_ACCOUNT = '333333333333';
const REGION = 'eu-west-1';
const SOURCE_KEY = `arn:aws:kms:us-east-1:${SOURCE_ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const TAG = PipelineTag.SHARE_OF;

const SOURCE_ENV = { account: SOURCE_ACCOUNT, region: REGION };

function build(props: Partial<AuroraRestoreSourceProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Source', { env: SOURCE_ENV });
  const source = new AuroraRestoreSource(stack, 'Source', { sourceClusterIdentifier: 'prod-aurora', pipelineAccount: PIPELINE_ACCOUNT, ...props });
  return { app, stack, source, template: Template.fromStack(stack) };
}

function statement(template: Template, sid: string): Record<string, any> {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  const found = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Sid === sid);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('template', () => {
  const { stack, template } = build({ sourceRegion: 'us-east-1' });
  const resolve = (v: unknown) => JSON.stringify(stack.resolve(v));
  const arn = (region: string, name: string) => `arn:aws:rds:${region}:${SOURCE_ACCOUNT}:${name}`;

  test('the role trusts the pipeline\'s account', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${PIPELINE_ACCOUNT}:root`]] } },
        }],
      },
    });
  });

  test('or only the pipeline\'s roles when given', () => {
    const roles = [`arn:aws:iam::${PIPELINE_ACCOUNT}:role/SnapshotCheck`, `arn:aws:iam::${PIPELINE_ACCOUNT}:role/CopySnapshot`];
    build({ pipelineRoleArns: roles }).template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: roles.map((AWS) => ({ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS } })) },
    });
  });

  test('describes the source cluster, nothing else', () => {
    const s = statement(template, 'DescribeSourceCluster');
    expect(s.Action).toBe('rds:DescribeDBClusters');
    expect(resolve(s.Resource)).toMatch(/:rds:us-east-1:111111111111:cluster:prod-aurora"\]\]}$/);
  });

  test('describes only the source cluster, its automated snapshots and the shareable copies', () => {
    const s = statement(template, 'FindSourceSnapshots');
    expect(s.Action).toBe('rds:DescribeDBClusterSnapshots');
    expect(resolve(s.Resource)).toContain('cluster:prod-aurora"');
    expect(s.Condition).toBeUndefined();
    const names = (s.Resource as unknown[]).map((r) => resolve(r));
    expect(names).toHaveLength(3);
    expect(names[1]).toContain(':us-east-1:');
    expect(names[1]).toContain('cluster-snapshot:rds:prod-aurora-????-??-??-??-??');
    expect(names[2]).toContain(`${REGION}:${SOURCE_ACCOUNT}:cluster-snapshot:arp-share-*`);
    expect(arn('us-east-1', 'x')).toContain(SOURCE_ACCOUNT);
  });

  test('copies only with the share-of tag, into a copy not of another source', () => {
    const from = statement(template, 'CopyFromSourceSnapshot');
    expect(from.Condition).toEqual({ StringEquals: { [`aws:RequestTag/${TAG}`]: 'prod-aurora' } });
    expect(resolve(from.Resource)).toContain('cluster-snapshot:rds:prod-aurora-????-??-??-??-??');
    const into = statement(template, 'CopyIntoShareableCopy');
    expect(into.Condition).toEqual({
      StringEquals: { [`aws:RequestTag/${TAG}`]: 'prod-aurora' },
      StringEqualsIfExists: { [`aws:ResourceTag/${TAG}`]: 'prod-aurora' },
    });
    expect(resolve(into.Resource)).toContain('cluster-snapshot:arp-share-*');
  });

  test.each(['ShareOwnCopies', 'DeleteOwnCopies'])('%s: only copies tagged as this source\'s', (sid) => {
    const s = statement(template, sid);
    expect(s.Condition).toEqual({ StringEquals: { [`aws:ResourceTag/${TAG}`]: 'prod-aurora' } });
    expect(resolve(s.Resource)).toContain(`:rds:${REGION}:${SOURCE_ACCOUNT}:cluster-snapshot:arp-share-*"]]}`);
  });

  test('KMS: grants only for RDS, on the share key and the source region\'s keys through RDS', () => {
    expect(statement(template, 'RdsGrantOnShareKey').Condition).toEqual({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
    expect(statement(template, 'RdsGrantOnSourceKey').Condition).toEqual({
      Bool: { 'kms:GrantIsForAWSResource': 'true' },
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['rds.us-east-1.', { Ref: 'AWS::URLSuffix' }]] } },
    });
    const scoped = build({ sourceSnapshotKey: kms.Key.fromKeyArn(new Stack(), 'K', SOURCE_KEY) }).template;
    expect(statement(scoped, 'RdsGrantOnSourceKey').Resource).toBe(SOURCE_KEY);
  });

  test('the share key rotates, and the pipeline\'s account may use it only through RDS of this region', () => {
    const viaRds = { 'kms:ViaService': { 'Fn::Join': ['', [`rds.${REGION}.`, { Ref: 'AWS::URLSuffix' }]] }, 'kms:CallerAccount': PIPELINE_ACCOUNT };
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'PipelineAccountUsesTheKeyThroughRds',
            Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
            Condition: { StringEquals: viaRds },
          }),
          Match.objectLike({
            Sid: 'PipelineAccountLetsRdsHoldGrants',
            Action: 'kms:CreateGrant',
            Condition: {
              StringEquals: viaRds,
              Bool: { 'kms:GrantIsForAWSResource': 'true' },
            },
          }),
        ]),
      },
    });
    // Kept when the stack is deleted: shared copies may still be encrypted with it.
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const statements = Object.values(template.findResources('AWS::KMS::Key'))[0].Properties.KeyPolicy.Statement as any[];
    // The account's own administration (the default key policy) and the two statements for the pipeline's account.
    expect(statements).toHaveLength(3);
  });

  test('exposes the role and key ARNs the pipeline needs', () => {
    const { source } = build();
    expect(stack.resolve(source.roleArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SourceRole/), 'Arn'] });
    expect(stack.resolve(source.shareKeyArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SourceShareKey/), 'Arn'] });
    expect(source.shareTagValue).toBe('prod-aurora');
  });

  test('the role and the share key\'s alias get the name the pipeline computes from its account and region', () => {
    const { source, template: t } = build();
    const name = sourceAccessName('prod-aurora', PIPELINE_ACCOUNT, REGION);
    expect(source.accessName).toBe(name);
    t.hasResourceProperties('AWS::IAM::Role', { RoleName: name });
    t.hasResourceProperties('AWS::KMS::Alias', { AliasName: `alias/${name}`, TargetKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SourceShareKey'), 'Arn'] } });
  });

  test('without a known region or pipeline account, CloudFormation names the role and the key has no alias', () => {
    const agnostic = new Stack(new App(), 'Agnostic');
    const source = new AuroraRestoreSource(agnostic, 'Source', { sourceClusterIdentifier: 'prod-aurora', pipelineAccount: PIPELINE_ACCOUNT });
    const t = Template.fromStack(agnostic);
    expect(source.accessName).toBeUndefined();
    t.hasResourceProperties('AWS::IAM::Role', { RoleName: Match.absent() });
    t.resourceCountIs('AWS::KMS::Alias', 0);
  });
});

describe('sourceAccessName', () => {
  test('is arp-source-<cluster>-<hash>, the same on both sides, lower case', () => {
    expect(sourceAccessName('Prod-Aurora', PIPELINE_ACCOUNT, REGION)).toBe(sourceAccessName('prod-aurora', PIPELINE_ACCOUNT, REGION));
    expect(sourceAccessName('prod-aurora', PIPELINE_ACCOUNT, REGION)).toMatch(/^arp-source-prod-aurora-[0-9a-f]{8}$/);
  });

  test('differs per pipeline account and region (IAM role names are global to the account)', () => {
    const names = new Set([
      sourceAccessName('prod-aurora', PIPELINE_ACCOUNT, REGION),
      sourceAccessName('prod-aurora', OTHER_ACCOUNT, REGION),
      sourceAccessName('prod-aurora', PIPELINE_ACCOUNT, 'us-east-1'),
    ]);
    expect(names.size).toBe(3);
  });

  test('fits IAM\'s 64 characters for the longest cluster identifier, without a trailing hyphen before the hash', () => {
    const longest = `a${'-b'.repeat(31)}`; // 63 characters
    const name = sourceAccessName(longest, PIPELINE_ACCOUNT, REGION);
    expect(name.length).toBeLessThanOrEqual(64);
    expect(name).not.toMatch(/--/);
  });
});

describe('props are checked', () => {
  test.each<[string, Partial<AuroraRestoreSourceProps>, RegExp]>([
    ['a reserved prefix', { sourceClusterIdentifier: 'arp-share-prod' }, /starts with arp-share-/],
    ['an identifier RDS refuses', { sourceClusterIdentifier: 'prod--aurora' }, /"prod--aurora" is not a valid RDS cluster identifier/],
    ['a region that is not one', { sourceRegion: 'useast1' }, /sourceRegion "useast1" is not an AWS region name/],
    ['a manual prefix that is too short', { manualSnapshotPrefix: 'pr' }, /shorter than 3 characters/],
    ['a manual prefix that covers the copies', { manualSnapshotPrefix: 'arp-share-' }, /manualSnapshotPrefix .* starts with arp-share-/],
    ['a pipeline account that is not an account id', { pipelineAccount: '2222' }, /not a 12-digit AWS account id/],
    ['a role of another account', { pipelineRoleArns: [`arn:aws:iam::${OTHER_ACCOUNT}:role/x`] }, /not a role of the pipeline's account/],
  ])('%s', (_what, props, error) => {
    expect(() => build(props)).toThrow(error);
  });

  test('CloudFormation parameters are taken as given, unchecked', () => {
    const stack = new Stack(new App(), 'Params', { env: SOURCE_ENV });
    const cluster = new CfnParameter(stack, 'Cluster').valueAsString;
    const account = new CfnParameter(stack, 'Account').valueAsString;
    const source = new AuroraRestoreSource(stack, 'Source', {
      sourceClusterIdentifier: cluster, pipelineAccount: account, pipelineRoleArns: [`arn:aws:iam::${PIPELINE_ACCOUNT}:role/x`],
    });
    expect(stack.resolve(source.shareTagValue)).toEqual({ Ref: 'Cluster' });
  });

  test('an environment-agnostic stack synthesizes', () => {
    const stack = new Stack(new App(), 'Agnostic');
    new AuroraRestoreSource(stack, 'Source', { sourceClusterIdentifier: 'prod-aurora', pipelineAccount: PIPELINE_ACCOUNT, sourceRegion: 'us-east-1' });
    expect(() => Template.fromStack(stack)).not.toThrow();
  });
});

function findings(app: App): string[] {
  const packs = [
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
  ];
  return packs.flatMap((pack) => pack.validateScope(app).violations
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)));
}

describe('cdk-nag: the five packs', () => {
  test.each<[string, Partial<AuroraRestoreSourceProps>]>([
    ['same region, account trusted', {}],
    ['cross-region, roles trusted, manual snapshots', {
      sourceRegion: 'us-east-1', pipelineRoleArns: [`arn:aws:iam::${PIPELINE_ACCOUNT}:role/p`], manualSnapshotPrefix: 'prod-aurora-manual-',
    }],
  ])('%s: no unacknowledged finding', (_name, props) => {
    expect(findings(build(props).app)).toEqual([]);
  });

  test('every acknowledgement names an exact finding with a reason', () => {
    const { source } = build({ manualSnapshotPrefix: 'prod-aurora-manual-' });
    const acks = source.node.findAll().flatMap((c) => c.node.metadata
      .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .flatMap((m) => Object.entries(m.data as Record<string, string>)));
    expect(acks.length).toBeGreaterThanOrEqual(6);
    for (const [id, reason] of acks) {
      expect(id).toMatch(/^(Annotation::)?(AwsSolutions|NIST\.800\.53\.R5|HIPAA\.Security|PCI\.DSS\.321)-[A-Za-z0-9]+(\[.+\])?$/);
      expect(id.replace('Annotation::', '')).not.toBe('AwsSolutions-IAM5');
      expect(reason.length).toBeGreaterThan(40);
    }
  });
});

describe('IAM simulation', () => {
  const { stack } = build({ sourceRegion: 'us-east-1', manualSnapshotPrefix: 'prod-aurora-manual-' });
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const resolver = new TemplateResolver(template, { region: REGION, account: SOURCE_ACCOUNT });
  const roleId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::IAM::Role')!;
  const roleArn = resolver.resolveString({ 'Fn::GetAtt': [roleId, 'Arn'] });
  const keyId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::KMS::Key')!;
  const shareKey = resolver.resolveString({ 'Fn::GetAtt': [keyId, 'Arn'] });
  const keys = keyPolicies(template, resolver);
  const policies = policiesOfRole(template, resolver, roleId);
  const asRole = (r: IamRequest) => decideAs(roleArn, policies, r, keys, SOURCE_ACCOUNT);

  const snap = (region: string, name: string) => `arn:aws:rds:${region}:${SOURCE_ACCOUNT}:cluster-snapshot:${name}`;
  const src = 'us-east-1';
  const ours = { [TAG]: 'prod-aurora' };
  const theirs = { [TAG]: 'prod' };
  const share = snap(REGION, 'arp-share-prod-aurora-op-1');
  const grantVia = (region: string) => ({ 'kms:GrantIsForAWSResource': 'true', 'kms:ViaService': `rds.${region}.amazonaws.com` });

  test.each<[string, IamRequest, IamDecision]>([
    ['describes the source cluster', { action: 'rds:DescribeDBClusters', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:prod-aurora` }, 'Allowed'],
    ['describes the source cluster\'s snapshots', { action: 'rds:DescribeDBClusterSnapshots', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:prod-aurora` }, 'Allowed'],
    ['describes an automated snapshot', { action: 'rds:DescribeDBClusterSnapshots', resource: snap(src, 'rds:prod-aurora-2026-11-29-03-10') }, 'Allowed'],
    ['describes a manual snapshot under the prefix', { action: 'rds:DescribeDBClusterSnapshots', resource: snap(src, 'prod-aurora-manual-1') }, 'Allowed'],
    ['copies an automated snapshot, tagged', { action: 'rds:CopyDBClusterSnapshot', resource: snap(src, 'rds:prod-aurora-2026-11-29-03-10'), requestTags: ours }, 'Allowed'],
    ['into a shareable copy, tagged', { action: 'rds:CopyDBClusterSnapshot', resource: share, requestTags: ours }, 'Allowed'],
    ['tags it on create', { action: 'rds:AddTagsToResource', resource: share, requestTags: ours }, 'Allowed'],
    ['shares its copy', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: share, resourceTags: ours }, 'Allowed'],
    ['reads the copy\'s attributes', { action: 'rds:DescribeDBClusterSnapshotAttributes', resource: share }, 'Allowed'],
    ['deletes its copy', { action: 'rds:DeleteDBClusterSnapshot', resource: share, resourceTags: ours }, 'Allowed'],
    ['RDS grant on the share key', { action: 'kms:CreateGrant', resource: shareKey, context: grantVia(REGION) }, 'Allowed'],
    ['RDS grant on a source-region key', { action: 'kms:CreateGrant', resource: SOURCE_KEY, context: grantVia(src) }, 'Allowed'],
  ])('control, allowed: %s', async (_what, request, expected) => {
    expect(await asRole(request)).toBe(expected);
  });

  const other = 'billing-db';
  const forbidden: Array<[string, IamRequest]> = [
    // Another cluster's snapshots, including one whose name starts with the source's (prod-aurora-2 vs prod-aurora).
    ...[snap(src, `rds:${other}-2026-11-29-03-10`), snap(src, 'rds:prod-aurora-2-2026-11-29-03-10'), snap(src, 'rds:prod-aurora-old-2026-11-29-03-10'),
      snap(src, 'billing-manual-1'), snap(REGION, 'rds:prod-aurora-2026-11-29-03-10')].flatMap((resource): Array<[string, IamRequest]> => [
      [`describe ${resource}`, { action: 'rds:DescribeDBClusterSnapshots', resource }],
      [`copy ${resource}`, { action: 'rds:CopyDBClusterSnapshot', resource, requestTags: ours }],
      [`share ${resource}`, { action: 'rds:ModifyDBClusterSnapshotAttribute', resource, resourceTags: ours }],
      [`delete ${resource}`, { action: 'rds:DeleteDBClusterSnapshot', resource, resourceTags: ours }],
    ]),
    ['describe another cluster\'s settings', { action: 'rds:DescribeDBClusters', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:${other}` }],
    ['describe a cluster sharing the source\'s prefix', { action: 'rds:DescribeDBClusters', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:prod-aurora-2` }],
    ['describe another cluster', { action: 'rds:DescribeDBClusterSnapshots', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:${other}` }],
    // The source cluster's own snapshots: never shared or deleted, only copied.
    ['share an automated snapshot of the source', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: snap(src, 'rds:prod-aurora-2026-11-29-03-10'), resourceTags: ours }],
    ['share a manual snapshot of the source', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: snap(src, 'prod-aurora-manual-1'), resourceTags: ours }],
    ['delete a manual snapshot of the source', { action: 'rds:DeleteDBClusterSnapshot', resource: snap(src, 'prod-aurora-manual-1'), resourceTags: ours }],
    ['tag a manual snapshot of the source as a copy', { action: 'rds:AddTagsToResource', resource: snap(src, 'prod-aurora-manual-1'), requestTags: ours }],
    // Copies it did not make: untagged, another source's, or under the prefix without the tag.
    ['delete an untagged arp-share- snapshot', { action: 'rds:DeleteDBClusterSnapshot', resource: share }],
    ['share an untagged arp-share- snapshot', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: share }],
    ['delete another source\'s copy', { action: 'rds:DeleteDBClusterSnapshot', resource: share, resourceTags: theirs }],
    ['share another source\'s copy', { action: 'rds:ModifyDBClusterSnapshotAttribute', resource: share, resourceTags: theirs }],
    ['copy from another source\'s copy', { action: 'rds:CopyDBClusterSnapshot', resource: share, resourceTags: theirs, requestTags: ours }],
    ['retag another source\'s copy as its own', { action: 'rds:AddTagsToResource', resource: share, resourceTags: theirs, requestTags: ours }],
    ['copy untagged', { action: 'rds:CopyDBClusterSnapshot', resource: share }],
    ['copy tagged as another source\'s', { action: 'rds:CopyDBClusterSnapshot', resource: share, requestTags: theirs }],
    ['remove the tag from its copy', { action: 'rds:RemoveTagsFromResource', resource: share, resourceTags: ours, requestTagKeys: [TAG] }],
    ['delete its copy\'s namesake in another region', { action: 'rds:DeleteDBClusterSnapshot', resource: snap(src, 'arp-share-prod-aurora-op-1'), resourceTags: ours }],
    // Nothing else of RDS.
    ['delete the source cluster', { action: 'rds:DeleteDBCluster', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:prod-aurora` }],
    ['snapshot the source cluster', { action: 'rds:CreateDBClusterSnapshot', resource: `arn:aws:rds:${src}:${SOURCE_ACCOUNT}:cluster:prod-aurora`, requestTags: ours }],
    ['restore from a shareable copy', { action: 'rds:RestoreDBClusterFromSnapshot', resource: share, requestTags: ours }],
    // KMS: no grant for a principal, none outside RDS, no decryption itself.
    ['a grant on the share key for a principal', { action: 'kms:CreateGrant', resource: shareKey, context: { 'kms:GrantIsForAWSResource': 'false' } }],
    ['a grant on a source key outside RDS', { action: 'kms:CreateGrant', resource: SOURCE_KEY, context: { 'kms:GrantIsForAWSResource': 'true' } }],
    ['a grant on a key of a third region', { action: 'kms:CreateGrant', resource: SOURCE_KEY.replace('us-east-1', 'ap-south-1'), context: grantVia('ap-south-1') }],
    ['decrypt with the share key', { action: 'kms:Decrypt', resource: shareKey }],
    ['decrypt with a source key', { action: 'kms:Decrypt', resource: SOURCE_KEY, context: { 'kms:ViaService': `rds.${src}.amazonaws.com` } }],
  ];

  test('every forbidden request is denied', async () => {
    const allowed: string[] = [];
    for (const [what, request] of forbidden) {
      if (await asRole(request) === 'Allowed') allowed.push(`${what}: ${JSON.stringify(request)}`);
    }
    expect(forbidden.length).toBeGreaterThan(40);
    expect(allowed).toEqual([]);
  });

  // The key policy is the wall IAM cannot be on ModifyDBClusterSnapshotAttribute: a copy shared with any other
  // account is unusable there. A principal of the pipeline's account whose own IAM policy allows everything:
  const admin: Array<{ name: string; policy: PolicyDocument }> = [{
    name: 'admin', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
  }];
  const pipelineRole = `arn:aws:iam::${PIPELINE_ACCOUNT}:role/pipeline`;
  const viaRds = (region: string, account: string) => ({ 'kms:ViaService': `rds.${region}.amazonaws.com`, 'kms:CallerAccount': account });

  test.each<[string, string, IamRequest, IamDecision]>([
    ['the pipeline\'s account decrypts through RDS', pipelineRole, { action: 'kms:Decrypt', resource: shareKey, context: viaRds(REGION, PIPELINE_ACCOUNT) }, 'Allowed'],
    ['and lets RDS hold a grant', pipelineRole, {
      action: 'kms:CreateGrant', resource: shareKey, context: { ...viaRds(REGION, PIPELINE_ACCOUNT), 'kms:GrantIsForAWSResource': 'true' },
    }, 'Allowed'],
    ['not directly', pipelineRole, { action: 'kms:Decrypt', resource: shareKey, context: { 'kms:CallerAccount': PIPELINE_ACCOUNT } }, 'ImplicitlyDenied'],
    ['not through another service', pipelineRole, { action: 'kms:Decrypt', resource: shareKey, context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'kms:CallerAccount': PIPELINE_ACCOUNT } }, 'ImplicitlyDenied'],
    ['not through RDS of another region', pipelineRole, { action: 'kms:Decrypt', resource: shareKey, context: viaRds('us-east-1', PIPELINE_ACCOUNT) }, 'ImplicitlyDenied'],
    ['no grant for a principal', pipelineRole, {
      action: 'kms:CreateGrant', resource: shareKey, context: { ...viaRds(REGION, PIPELINE_ACCOUNT), 'kms:GrantIsForAWSResource': 'false' },
    }, 'ImplicitlyDenied'],
    ['no key administration', pipelineRole, { action: 'kms:ScheduleKeyDeletion', resource: shareKey, context: viaRds(REGION, PIPELINE_ACCOUNT) }, 'ImplicitlyDenied'],
    ['no key policy change', pipelineRole, { action: 'kms:PutKeyPolicy', resource: shareKey, context: viaRds(REGION, PIPELINE_ACCOUNT) }, 'ImplicitlyDenied'],
    ['another account, even through RDS', `arn:aws:iam::${OTHER_ACCOUNT}:role/x`, { action: 'kms:Decrypt', resource: shareKey, context: viaRds(REGION, OTHER_ACCOUNT) }, 'ImplicitlyDenied'],
  ])('share key: %s', async (_what, principal, request, expected) => {
    expect(await decideAs(principal, admin, request, keys, SOURCE_ACCOUNT)).toBe(expected);
  });
});
