import { App } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { CROSS_ACCOUNT, defaultStack, fullStack } from './stacks';
import { HandlerPlacement } from '../../src';

function findings(app: App): string[] {
  const packs = [
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
  ];
  return packs.flatMap((pack) => pack.validateScope(app).violations
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)));
}

describe('cdk-nag: AwsSolutions, Serverless, NIST 800-53 R5, HIPAA, PCI DSS 3.2.1', () => {
  const placements = [HandlerPlacement.DATABASE_ONLY, HandlerPlacement.ALL_IN_VPC];
  test.each(placements.flatMap((handlerPlacement) => [
    [handlerPlacement, 'default, same region', () => defaultStack({ handlerPlacement }).app],
    [handlerPlacement, 'default, cross-region', () => defaultStack({ sourceRegion: 'us-east-1', handlerPlacement }).app],
    [handlerPlacement, 'default, environment-agnostic', () => defaultStack({ handlerPlacement }, undefined).app],
    [handlerPlacement, 'fully configured, same region', () => fullStack('eu-west-1', handlerPlacement).app],
    [handlerPlacement, 'fully configured, cross-region', () => fullStack('us-east-1', handlerPlacement).app],
    [handlerPlacement, 'default, source in another account and region', () => defaultStack({ ...CROSS_ACCOUNT, sourceRegion: 'us-east-1', handlerPlacement }).app],
    [handlerPlacement, 'default, source in another account, role and key by their default names', () => defaultStack({ sourceAccount: CROSS_ACCOUNT.sourceAccount, handlerPlacement }).app],
  ] as const))('%s, %s: no unacknowledged finding', (_placement, _name, build) => {
    expect(findings(build())).toEqual([]);
  });

  test('the functions outside the VPC are the only ones acknowledged for the Lambda-in-VPC rules', () => {
    const { app, stack } = defaultStack();
    const packs = [new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app)];
    const inVpcRule = (id: string) => /-LambdaInsideVPC$/.test(id);
    for (const pack of packs) expect(pack.validateScope(app).violations.filter((v) => inVpcRule(v.ruleName))).toEqual([]);
    const acknowledged = stack.node.findAll()
      .filter((c) => c.node.metadata.some((m) => m.type === 'aws:cdk:acknowledged-rules' && Object.keys(m.data as object).some(inVpcRule)))
      .map((c) => c.node.id).sort();
    expect(acknowledged).toEqual(['ArchiveSnapshot', 'CheckCopyStatus', 'CheckRestoreStatus', 'CopySnapshot', 'Cutover', 'DeleteRds', 'RestoreSnapshot', 'SnapshotCheck', 'SnsNotification']);
    const all = defaultStack({ handlerPlacement: HandlerPlacement.ALL_IN_VPC });
    expect(all.stack.node.findAll().filter((c) => c.node.metadata.some((m) => m.type === 'aws:cdk:acknowledged-rules'
      && Object.keys(m.data as object).some(inVpcRule)))).toEqual([]);
  });

  test('the packs do find what is not acknowledged (the check can fail)', () => {
    const { app, stack } = defaultStack();
    // An unencrypted queue without SSL in the same app is reported.
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(findings(app).some((f) => f.startsWith('AwsSolutions-SQS4'))).toBe(true);
  });

  test('every acknowledgement gives a reason and names an exact finding', () => {
    const { pipeline } = fullStack('us-east-1');
    const acks = pipeline.node.findAll().flatMap((c) => c.node.metadata
      .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .flatMap((m) => Object.entries(m.data as Record<string, string>)));
    expect(acks.length).toBeGreaterThan(20);
    for (const [id, reason] of acks) {
      expect(id).toMatch(/^(Annotation::)?(AwsSolutions|Serverless|NIST\.800\.53\.R5|HIPAA\.Security|PCI\.DSS\.321)-[A-Za-z0-9]+(\[.+\])?$/);
      expect(id.replace('Annotation::', '')).not.toBe('AwsSolutions-IAM5');
      expect(reason.length).toBeGreaterThan(40);
    }
  });
});
