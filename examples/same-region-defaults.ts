/**
 * Example (a): nightly refresh of staging from production in the same region, with every default.
 *
 * - every night at 02:00 London time, an EventBridge Scheduler schedule starts a restore (`requestedBy: schedule`);
 * - restores the latest available snapshot of `prod-aurora` into `staging-aurora`;
 * - replaces the previous `staging-aurora` only because the pipeline created it (ownership tag), after a
 *   final snapshot;
 * - a generated master secret, a new KMS key, an encrypted topic, alarms and a dashboard.
 *
 * Run: `npx cdk synth` in examples/ (cdk.json; the CDK CLI writes the cloud assembly to examples/cdk.out/).
 */
import { App, Stack, StackProps, TimeZone } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { AuroraRestorePipeline } from 'cdk-aurora-restore-pipeline';

export class StagingRefreshStack extends Stack {
  public readonly pipeline: AuroraRestorePipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // The VPC the staging cluster lives in (an existing one; pass -c vpcId=... to use yours).
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: this.node.tryGetContext('vpcId') ?? 'vpc-0a1b2c3d4e5f60718',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
      privateSubnetRouteTableIds: ['rtb-0a1b2c3d4e5f60001', 'rtb-0a1b2c3d4e5f60002'],
    });

    this.pipeline = new AuroraRestorePipeline(this, 'Restore', {
      sourceClusterIdentifier: 'prod-aurora',
      targetClusterIdentifier: 'staging-aurora',
      vpc,
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '2', timeZone: TimeZone.EUROPE_LONDON }),
    });
  }
}

/** Adds the example's stacks to `app`. */
export function build(app: App): Stack[] {
  return [new StagingRefreshStack(app, 'StagingRefresh', { env: { account: '123456789012', region: 'eu-west-1' } })];
}

if (require.main === module) {
  const app = new App();
  build(app);
  app.synth();
}
