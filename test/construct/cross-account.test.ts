/*
 * The template of a pipeline whose source is in another account (sourceAccount, sourceRoleArn, sourceShareKeyArn):
 * which functions may assume the source account's role, what the restore may read there, the share key's statements,
 * and what the handlers are told. The IAM simulation of the same is in test/iam/forbidden.test.ts.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CROSS_ACCOUNT, defaultStack } from './stacks';
import { AuroraRestoreSource } from '../../src';
import { PIPELINE_CONFIG_ENV } from '../../src/contracts';

const str = (v: unknown) => JSON.stringify(v);
const A = CROSS_ACCOUNT.sourceAccount;

describe('a source in another account: the template', () => {
  const { stack } = defaultStack({ ...CROSS_ACCOUNT, sourceRegion: 'us-east-1' });
  const t = Template.fromStack(stack);
  const policies = Object.entries(t.findResources('AWS::IAM::Policy'));
  const statementsOf = (fnId: string) => policies
    .filter(([id]) => id.startsWith(`RestoreHandlers${fnId}Role`))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
  const all = policies.flatMap(([id, p]) => (p.Properties.PolicyDocument.Statement as any[]).map((s) => ({ id, s })));

  test('sts:AssumeRole on exactly the source role, for the five steps that act in the source account only', () => {
    const assume = all.filter(({ s }) => [s.Action].flat().includes('sts:AssumeRole'));
    expect(assume.map(({ id }) => /RestoreHandlers(\w+?)Role/.exec(id)![1]).sort())
      .toEqual(['ArchiveSnapshot', 'CheckCopyStatus', 'CopySnapshot', 'SnapshotCheck', 'SnsNotification']);
    for (const { s } of assume) expect(s).toEqual({ Action: 'sts:AssumeRole', Effect: 'Allow', Resource: CROSS_ACCOUNT.sourceRoleArn });
  });

  test('the restore reads only the operation\'s shareable copies in the source account, in the stack\'s region', () => {
    const restore = statementsOf('RestoreSnapshot').find((s) => [s.Action].flat().includes('rds:RestoreDBClusterFromSnapshot'));
    const snapshots = [restore.Resource].flat().map(str).filter((r) => r.includes(':cluster-snapshot:'));
    expect(snapshots).toEqual([str({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:rds:eu-west-1:${A}:cluster-snapshot:arp-share-staging-aurora-*`]] })]);
    expect(restore.Condition).toEqual({ StringEquals: { 'aws:RequestTag/aurora-restore-pipeline:pipeline': 'Restore' } });
    // Nothing else of the source account in any statement.
    const inA = all.filter(({ s }) => str(s.Resource).includes(A)).map(({ id, s }) => `${/RestoreHandlers(\w+?)Role/.exec(id)![1]} ${[s.Action].flat().join(',')}`);
    expect(inA.sort()).toEqual([
      'ArchiveSnapshot sts:AssumeRole', 'CheckCopyStatus sts:AssumeRole', 'CopySnapshot sts:AssumeRole',
      'RestoreSnapshot kms:CreateGrant', 'RestoreSnapshot kms:Decrypt,kms:DescribeKey', 'RestoreSnapshot rds:RestoreDBClusterFromSnapshot',
      'SnapshotCheck sts:AssumeRole', 'SnsNotification sts:AssumeRole',
    ]);
  });

  test('the share key: decrypt and describe through RDS of this region, grants only for RDS', () => {
    const onKey = statementsOf('RestoreSnapshot').filter((s) => str(s.Resource) === str(CROSS_ACCOUNT.sourceShareKeyArn));
    const viaRds = { 'kms:ViaService': { 'Fn::Join': ['', ['rds.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] } };
    expect(onKey).toEqual([
      { Action: ['kms:Decrypt', 'kms:DescribeKey'], Effect: 'Allow', Resource: CROSS_ACCOUNT.sourceShareKeyArn, Condition: { StringEquals: viaRds } },
      { Action: 'kms:CreateGrant', Effect: 'Allow', Resource: CROSS_ACCOUNT.sourceShareKeyArn, Condition: { StringEquals: viaRds, Bool: { 'kms:GrantIsForAWSResource': 'true' } } },
    ]);
  });

  test('the pipeline\'s account copies nothing, reads no source snapshot and settles no copy of its own', () => {
    for (const { id, s } of all) {
      const actions = [s.Action].flat() as string[];
      if (actions.some((a) => /^rds:(CopyDBClusterSnapshot|DeleteDBClusterSnapshot|ModifyDBClusterSnapshotAttribute)$/.test(a))) {
        // Only DeleteRds' final snapshots remain.
        expect({ id, resource: str(s.Resource) }).toEqual({ id: expect.stringMatching(/DeleteRds/), resource: expect.stringContaining('arp-final-') });
      }
      expect(str(s.Resource)).not.toContain(':rds:us-east-1:');
      expect(str(s.Resource)).not.toContain(':kms:us-east-1:');
    }
  });

  test('the handlers are told the source account, its role and share key, and the account to share with', () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    const config = str(fns[0].Properties.Environment.Variables[PIPELINE_CONFIG_ENV]);
    expect(config).toContain(`\\"sourceAccount\\":\\"${A}\\"`);
    expect(config).toContain(`\\"sourceRoleArn\\":\\"${CROSS_ACCOUNT.sourceRoleArn}\\"`);
    expect(config).toContain(`\\"sourceShareKeyArn\\":\\"${CROSS_ACCOUNT.sourceShareKeyArn}\\"`);
    expect(config).toContain('\\"pipelineAccount\\":\\"123456789012\\"');
  });

  test('a pipeline of one account has none of it', () => {
    const same = Template.fromStack(defaultStack({ sourceRegion: 'us-east-1' }).stack);
    const statements = Object.values(same.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    expect(statements.filter((s) => str(s.Action).includes('sts:'))).toEqual([]);
    const text = str(same.toJSON());
    expect(text.includes('arp-share-')).toBe(false);
    expect(text.includes('sourceRoleArn')).toBe(false);
  });
});

describe('a source in another account, given only sourceAccount', () => {
  const { app, stack } = defaultStack({ sourceAccount: A, sourceRegion: 'us-east-1' });
  const t = Template.fromStack(stack);
  const companionStack = new Stack(app, 'Source', { env: { account: A, region: 'eu-west-1' } });
  const companion = new AuroraRestoreSource(companionStack, 'RestoreSource', { sourceClusterIdentifier: 'prod-aurora', sourceRegion: 'us-east-1', pipelineAccount: '123456789012' });
  const name = companion.accessName!;
  const restoreStatements = Object.entries(t.findResources('AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith('RestoreHandlersRestoreSnapshotRole'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);

  test('the pipeline assumes the role the companion names for this account and region, and uses its key alias', () => {
    expect(name).toMatch(/^arp-source-prod-aurora-[0-9a-f]{8}$/);
    const roleArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${A}:role/${name}`]] };
    const assume = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as any[])
      .filter((s) => s.Action === 'sts:AssumeRole');
    expect(assume).toHaveLength(5);
    for (const s of assume) expect(s.Resource).toEqual(roleArn);
    const config = str(Object.values(t.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables[PIPELINE_CONFIG_ENV]);
    expect(config).toContain(`:kms:eu-west-1:${A}:alias/${name}`);
  });

  test('known by its alias only, the share key is any key of the source account in this region, through RDS (acknowledged)', () => {
    const onKeys = restoreStatements.filter((s) => str(s.Resource).includes(`:kms:eu-west-1:${A}:key/*`));
    expect(onKeys.map((s) => [s.Action].flat().join(','))).toEqual(['kms:Decrypt,kms:DescribeKey', 'kms:CreateGrant']);
    for (const s of onKeys) expect(str(s.Condition)).toContain('rds.eu-west-1.');
    const acks = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .flatMap((m) => Object.keys(m.data as object)));
    expect(acks.some((id) => id.includes(`kms:eu-west-1:${A}:key/*`))).toBe(true);
  });
});
