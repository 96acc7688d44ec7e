/**
 * Example (c): every prop set — a restore-testing pipeline that checks last night's backup in a provisioned
 * writer, with its own network placement, parameter group, tags, a legacy combined users secret, an
 * existing topic, a backup plan for the tables, and tuned timing. Every function runs in the VPC (an organisation
 * policy), which reaches the AWS APIs through its interface endpoints: their security groups admit the functions.
 *
 * Run: `npx cdk synth -c example=every-prop` in examples/ (writes examples/cdk.out/).
 */
import { App, Duration, RemovalPolicy, Stack, StackProps, TimeZone } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AuroraRestorePipeline, DatabasePrivilege, HandlerPlacement, UnmanagedLogins } from 'cdk-aurora-restore-pipeline';

export class RestoreTestStack extends Stack {
  public readonly pipeline: AuroraRestorePipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: 'vpc-0c1b2c3d4e5f60718',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-0c1b2c3d4e5f60001', 'subnet-0c1b2c3d4e5f60002'],
      privateSubnetRouteTableIds: ['rtb-0c1b2c3d4e5f60001', 'rtb-0c1b2c3d4e5f60002'],
    });
    const key = new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'restore tests' });
    const dbSecurityGroup = new ec2.SecurityGroup(this, 'DbSecurityGroup', { vpc, allowAllOutbound: false, description: 'restore-test cluster' });
    // The security group of the VPC's interface endpoints (RDS, SNS, Secrets Manager), made elsewhere.
    const endpoints = ec2.SecurityGroup.fromSecurityGroupId(this, 'EndpointSecurityGroup', 'sg-0c1b2c3d4e5f60e01');
    const topic = new sns.Topic(this, 'Alerts', { masterKey: key, enforceSSL: true });
    const master = secretsmanager.Secret.fromSecretCompleteArn(this, 'Master', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:restore-test/master-AbCdEf');
    const legacyUsers = secretsmanager.Secret.fromSecretCompleteArn(this, 'LegacyUsers', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:restore-test/app-users-AbCdEf');
    const plan = backup.BackupPlan.fromBackupPlanId(this, 'Plan', 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111');

    this.pipeline = new AuroraRestorePipeline(this, 'Restore', {
      sourceClusterIdentifier: 'prod-aurora',
      targetClusterIdentifier: 'restore-test',
      vpc,
      sourceRegion: 'eu-west-1',
      includeAutomatedSnapshots: true,
      vpcSubnets: { subnets: vpc.privateSubnets },
      handlerPlacement: HandlerPlacement.ALL_IN_VPC,
      endpointSecurityGroups: [endpoints],
      subnetGroup: new rds.SubnetGroup(this, 'SubnetGroup', { vpc, description: 'restore-test subnets', removalPolicy: RemovalPolicy.DESTROY }),
      securityGroups: [dbSecurityGroup],
      port: 5432,
      writerInstanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
      serverlessV2MinCapacity: 0.5,
      serverlessV2MaxCapacity: 4,
      engineVersion: '16.4',
      clusterParameterGroup: new rds.ParameterGroup(this, 'Params', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
        parameters: { log_min_duration_statement: '1000' },
      }),
      deletionProtection: false,
      clusterTags: { purpose: 'restore-test', costCenter: 'platform' },
      masterSecret: master,
      databaseUsers: [{ username: 'verifier', privilege: DatabasePrivilege.READ_ONLY, databases: ['app'], schemas: ['public'], connectionLimit: 5 }],
      unmanagedLogins: UnmanagedLogins.DISABLE,
      combinedUsersSecret: legacyUsers,
      databaseNames: ['app'],
      validationQueries: [{ name: 'accounts-present', database: 'app', sql: 'SELECT count(*) FROM public.accounts' }],
      validationStatementTimeout: Duration.seconds(60),
      replaceExistingTarget: true,
      assumeTargetOwned: false,
      finalSnapshotOnReplace: false,
      allowDisableDeletionProtection: false,
      retainSnapshotCopy: false,
      notificationTopic: topic,
      notificationEmails: ['restore-tests@example.com'],
      encryptionKey: key,
      snapshotCopyKey: key,
      pollInterval: Duration.seconds(15),
      maxPollInterval: Duration.minutes(2),
      pollBackoffRate: 1.5,
      waitBudget: Duration.hours(4),
      // Five budgets (a swap's wait loops) and two hours; left out, the timeout is just that.
      timeout: Duration.hours(22),
      logRetention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
      stateRetention: Duration.days(30),
      backupPlan: plan,
      handlerReservedConcurrency: 1,
      // Restore testing: every Sunday at 06:00 Berlin time, with the dashboard (on by default) showing the figures.
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '6', weekDay: 'SUN', timeZone: TimeZone.EUROPE_BERLIN }),
      dashboard: true,
    });
  }
}

/** Adds the example's stacks to `app`. */
export function build(app: App): Stack[] {
  return [new RestoreTestStack(app, 'RestoreTest', { env: { account: '123456789012', region: 'eu-west-1' } })];
}

if (require.main === module) {
  const app = new App();
  build(app);
  app.synth();
}
