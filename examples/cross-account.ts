/**
 * Example (e): staging in its own account, refreshed from production in another account and region.
 *
 * Two stacks, deployed in this order:
 *
 * 1. `ProductionRestoreSource`, in the PRODUCTION account (111111111111), in the PIPELINE's region (eu-west-1):
 *    `AuroraRestoreSource` for `prod-aurora` (in us-east-1). It creates the role the pipeline assumes there and the
 *    customer-managed key the shareable copies are encrypted with (snapshots on `aws/rds` cannot be shared). Their
 *    names are derived from the source cluster and the pipeline's account and region, so nothing has to be passed
 *    from this stack to the other;
 * 2. `StagingFromProduction`, in the STAGING account (222222222222), eu-west-1: the pipeline, with
 *    `sourceAccount`. Each night it has the production account copy the latest snapshot of `prod-aurora` into
 *    eu-west-1 under the share key, share that copy with the staging account only, restore `staging-aurora` from it
 *    (re-encrypted with the staging account's key), then unshare and delete the copy.
 *
 * Run: `npx cdk synth -c example=cross-account` in examples/ (writes examples/cdk.out/); deploy each stack with
 * credentials of its own account (`npx cdk deploy ProductionRestoreSource --profile production`, then
 * `npx cdk deploy StagingFromProduction --profile staging`).
 */
import { App, Stack, StackProps, TimeZone } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { AuroraRestorePipeline, AuroraRestoreSource } from 'cdk-aurora-restore-pipeline';

const PRODUCTION_ACCOUNT = '111111111111';
const STAGING_ACCOUNT = '222222222222';
const PIPELINE_REGION = 'eu-west-1';

/** The production account's side: the role the pipeline assumes and the share key. */
export class ProductionRestoreSourceStack extends Stack {
  public readonly source: AuroraRestoreSource;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.source = new AuroraRestoreSource(this, 'RestoreSource', {
      sourceClusterIdentifier: 'prod-aurora',
      sourceRegion: 'us-east-1',
      pipelineAccount: STAGING_ACCOUNT,
    });
  }
}

/** The staging account's side: the pipeline. */
export class StagingFromProductionStack extends Stack {
  public readonly pipeline: AuroraRestorePipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: 'vpc-0e1b2c3d4e5f60718',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-0e1b2c3d4e5f60001', 'subnet-0e1b2c3d4e5f60002'],
      privateSubnetRouteTableIds: ['rtb-0e1b2c3d4e5f60001', 'rtb-0e1b2c3d4e5f60002'],
    });

    this.pipeline = new AuroraRestorePipeline(this, 'Restore', {
      sourceAccount: PRODUCTION_ACCOUNT,
      sourceRegion: 'us-east-1',
      sourceClusterIdentifier: 'prod-aurora',
      targetClusterIdentifier: 'staging-aurora',
      vpc,
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '2', timeZone: TimeZone.EUROPE_LONDON }),
    });
  }
}

/** Adds the example's stacks to `app`: the source account's first, the pipeline's second. */
export function build(app: App): Stack[] {
  return [
    new ProductionRestoreSourceStack(app, 'ProductionRestoreSource', { env: { account: PRODUCTION_ACCOUNT, region: PIPELINE_REGION } }),
    new StagingFromProductionStack(app, 'StagingFromProduction', { env: { account: STAGING_ACCOUNT, region: PIPELINE_REGION } }),
  ];
}

if (require.main === module) {
  const app = new App();
  build(app);
  app.synth();
}
