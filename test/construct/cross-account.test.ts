/*
 * The template of a pipeline whose source is in another account (sourceAccount, sourceRoleArn, sourceShareKeyArn):
 * which functions may assume the source account's role, what the restore may read there, the share key's statements,
 * and what the handlers are told. The IAM simulation of the same is in test/iam/forbidden.test.ts.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { CROSS_ACCOUNT, defaultStack } from './stacks';
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
