import { App } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { defaultStack, fullStack } from './stacks';

function findings(app: App): string[] {
  const packs = [
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
  ];
  return packs.flatMap((pack) => pack.validateScope(app).violations
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)));
}

describe('cdk-nag: AwsSolutions, Serverless, NIST 800-53 R5, HIPAA, PCI DSS 3.2.1', () => {
  test.each([
    ['default, same region', () => defaultStack().app],
    ['default, cross-region', () => defaultStack({ sourceRegion: 'us-east-1' }).app],
    ['default, environment-agnostic', () => defaultStack({}, undefined).app],
    ['fully configured, same region', () => fullStack('eu-west-1').app],
    ['fully configured, cross-region', () => fullStack('us-east-1').app],
  ])('%s: no unacknowledged finding', (_name, build) => {
    expect(findings(build())).toEqual([]);
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
