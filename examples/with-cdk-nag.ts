/**
 * Example (d): example (a) as an app that runs the five cdk-nag packs, with a role of your own that may start
 * restores (say, for an EventBridge Scheduler schedule). `app.synth()` throws on any error finding left
 * unacknowledged. The construct acknowledges its own; `grantStartExecution` gives your role an inline policy,
 * which three packs report on your role: acknowledge it there, with a reason.
 *
 * Run: `npx cdk synth -c example=with-cdk-nag` in examples/ (writes examples/cdk.out/).
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { StagingRefreshStack } from './same-region-defaults';

/** Adds the example's stack to `app`, with the five packs registered on it. */
export function build(app: App): Stack[] {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app),
    new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
  );
  const stack = new StagingRefreshStack(app, 'StagingRefresh', { env: { account: '123456789012', region: 'eu-west-1' } });

  const schedulerRole = new iam.Role(stack, 'SchedulerRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com') });
  stack.pipeline.grantStartExecution(schedulerRole);
  for (const pack of ['NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321']) {
    Validations.of(schedulerRole).acknowledge({
      id: `${pack}-IAMNoInlinePolicy`,
      reason: 'The inline policy is the grant of states:StartExecution on this one state machine, from grantStartExecution.',
    });
  }
  return [stack];
}

if (require.main === module) {
  const app = new App();
  build(app);
  app.synth();
}
