/**
 * Example (b): disaster-recovery refresh across regions, with database users, e-mail alerts and a
 * customer-managed key.
 *
 * - snapshots of `prod-aurora` in us-east-1 are copied to eu-west-1 and re-encrypted with a customer key
 *   there (`snapshotCopyKey`); the source snapshots are encrypted with their own customer key
 *   (`sourceSnapshotKey`), which scopes the pipeline's KMS permissions in us-east-1 to that key;
 * - after the restore, three roles are reconciled: `app` (read-write, password generated into a new
 *   secret), `reporting` (read-only, on two schemas) and `migrator` (owner, with its password in an
 *   existing secret);
 * - notifications go to two e-mail addresses.
 *
 * Run: `npx cdk synth -c example=cross-region-with-users` in examples/ (writes examples/cdk.out/).
 */
import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AuroraRestorePipeline, DatabasePrivilege } from 'cdk-aurora-restore-pipeline';

export class DrRefreshStack extends Stack {
  public readonly pipeline: AuroraRestorePipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: 'vpc-0b1b2c3d4e5f60718',
      availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
      privateSubnetIds: ['subnet-0b1b2c3d4e5f60001', 'subnet-0b1b2c3d4e5f60002', 'subnet-0b1b2c3d4e5f60003'],
      privateSubnetRouteTableIds: ['rtb-0b1b2c3d4e5f60001', 'rtb-0b1b2c3d4e5f60002', 'rtb-0b1b2c3d4e5f60003'],
    });

    // The customer-managed key in the target region: encrypts the copies, the restored cluster and the
    // pipeline's own data. Created here, so the pipeline can add what CloudWatch Logs and alarms need.
    const key = new kms.Key(this, 'DrKey', { enableKeyRotation: true, description: 'DR copies of prod-aurora' });

    // The source snapshots' customer-managed key, in us-east-1 (its key policy must allow this account).
    const sourceKey = kms.Key.fromKeyArn(this, 'SourceKey', 'arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-4909-8807-060504030201');

    // A password managed elsewhere (JSON key `password`).
    const migratorSecret = secretsmanager.Secret.fromSecretCompleteArn(this, 'MigratorSecret',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dr/migrator-AbCdEf');

    this.pipeline = new AuroraRestorePipeline(this, 'Restore', {
      sourceClusterIdentifier: 'prod-aurora',
      sourceRegion: 'us-east-1',
      targetClusterIdentifier: 'dr-aurora',
      vpc,
      encryptionKey: key,
      snapshotCopyKey: key,
      sourceSnapshotKey: sourceKey,
      databaseNames: ['app'],
      databaseUsers: [
        { username: 'app', privilege: DatabasePrivilege.READ_WRITE },
        { username: 'reporting', privilege: DatabasePrivilege.READ_ONLY, schemas: ['public', 'analytics'] },
        { username: 'migrator', privilege: DatabasePrivilege.OWNER, secret: migratorSecret },
      ],
      notificationEmails: ['dba@example.com', 'oncall@example.com'],
    });
  }
}

/** Adds the example's stacks to `app`. */
export function build(app: App): Stack[] {
  return [new DrRefreshStack(app, 'DrRefresh', { env: { account: '123456789012', region: 'eu-west-1' } })];
}

if (require.main === module) {
  const app = new App();
  build(app);
  app.synth();
}
