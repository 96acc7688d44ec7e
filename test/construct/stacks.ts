import { App, Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AuroraRestorePipeline, AuroraRestorePipelineProps, DatabasePrivilege, HandlerPlacement } from '../../src';

export const ENV = { account: '123456789012', region: 'eu-west-1' };

/** The cross-account props of a pipeline in ENV restoring from account 111111111111 (its AuroraRestoreSource's outputs). */
export const CROSS_ACCOUNT = {
  sourceAccount: '111111111111',
  sourceRoleArn: 'arn:aws:iam::111111111111:role/RestoreSourceRole',
  sourceShareKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
};

/** An imported VPC: the consumer's network, whose own findings are not the construct's. */
export function importedVpc(stack: Stack): ec2.IVpc {
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
    privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0aaaaaaaaaaaaaaa2'],
  });
}

export interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly pipeline: AuroraRestorePipeline;
}

/** A stack with only the required props. */
export function defaultStack(extra: Partial<AuroraRestorePipelineProps> = {}, env: { account?: string; region?: string } | undefined = ENV): Built {
  const app = new App();
  const stack = new Stack(app, 'Default', { env });
  const pipeline = new AuroraRestorePipeline(stack, 'Restore', {
    sourceClusterIdentifier: 'prod-aurora',
    targetClusterIdentifier: 'staging-aurora',
    vpc: importedVpc(stack),
    ...extra,
  });
  return { app, stack, pipeline };
}

/** A stack with every prop set (cross-region when `sourceRegion` differs from eu-west-1). */
export function fullStack(sourceRegion = 'us-east-1', handlerPlacement = HandlerPlacement.ALL_IN_VPC): Built {
  const app = new App();
  const stack = new Stack(app, 'Full', { env: ENV });
  const vpc = importedVpc(stack);
  const key = new kms.Key(stack, 'CustomerKey', { enableKeyRotation: true });
  const sg = new ec2.SecurityGroup(stack, 'DbSg', { vpc, allowAllOutbound: false, description: 'db' });
  const appSecret = new secretsmanager.Secret(stack, 'AppSecret', { encryptionKey: key });
  const combined = new secretsmanager.Secret(stack, 'CombinedSecret', { encryptionKey: key });
  const master = new secretsmanager.Secret(stack, 'Master', { encryptionKey: key, generateSecretString: { generateStringKey: 'password', secretStringTemplate: '{}' } });
  const plan = backup.BackupPlan.daily35DayRetention(stack, 'Plan');
  // The consumer's own secrets: their rotation is the consumer's business, not the construct's.
  for (const secret of [appSecret, combined, master]) {
    Validations.of(secret).acknowledge(
      { id: 'AwsSolutions-SMG4', reason: 'Test fixture standing for a consumer-owned secret; rotated by its owner.' },
      { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason: 'Test fixture standing for a consumer-owned secret; rotated by its owner.' },
      { id: 'HIPAA.Security-SecretsManagerRotationEnabled', reason: 'Test fixture standing for a consumer-owned secret; rotated by its owner.' },
    );
  }
  const pipeline = new AuroraRestorePipeline(stack, 'Restore', {
    sourceClusterIdentifier: 'prod-aurora',
    targetClusterIdentifier: 'staging-aurora',
    vpc,
    sourceRegion,
    includeAutomatedSnapshots: false,
    vpcSubnets: { subnets: vpc.privateSubnets },
    subnetGroup: new rds.SubnetGroup(stack, 'SubnetGroup', { vpc, description: 'db subnets' }),
    securityGroups: [sg],
    port: 5433,
    writerInstanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
    serverlessV2MinCapacity: 1,
    serverlessV2MaxCapacity: 8,
    engineVersion: '16.4',
    clusterParameterGroup: new rds.ParameterGroup(stack, 'Params', { engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }) }),
    deletionProtection: true,
    clusterTags: { team: 'data', env: 'staging' },
    masterSecret: master,
    databaseUsers: [
      { username: 'app_rw', secret: appSecret, privilege: DatabasePrivilege.READ_WRITE, databases: ['app'], schemas: ['public', 'billing'] },
      { username: 'reporting', privilege: DatabasePrivilege.READ_ONLY },
      { username: 'migrator', privilege: DatabasePrivilege.OWNER, databases: ['app'] },
    ],
    combinedUsersSecret: combined,
    databaseNames: ['app'],
    validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) FROM billing.orders' }],
    validationStatementTimeout: Duration.seconds(45),
    replaceExistingTarget: true,
    assumeTargetOwned: true,
    finalSnapshotOnReplace: true,
    allowDisableDeletionProtection: true,
    retainSnapshotCopy: true,
    notificationEmails: ['dba@example.com'],
    encryptionKey: key,
    snapshotCopyKey: key,
    sourceSnapshotKey: kms.Key.fromKeyArn(stack, 'SourceKey', `arn:aws:kms:${sourceRegion}:123456789012:key/11111111-2222-3333-4444-555555555555`),
    pollInterval: Duration.seconds(20),
    maxPollInterval: Duration.minutes(2),
    pollBackoffRate: 2,
    waitBudget: Duration.hours(6),
    // Five 6-hour budgets (the swap's wait loops) and two hours: no timeoutBelowBudgets warning.
    timeout: Duration.hours(32),
    logRetention: logs.RetentionDays.TWO_YEARS,
    removalPolicy: RemovalPolicy.DESTROY,
    stateRetention: Duration.days(30),
    backupPlan: plan,
    handlerReservedConcurrency: 3,
    handlerPlacement,
    endpointSecurityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'SecretsEndpointSg', 'sg-0eeeeeeeeeeeeeee1')],
    schedule: scheduler.ScheduleExpression.cron({ minute: '30', hour: '1', weekDay: 'MON-FRI', timeZone: TimeZone.EUROPE_BERLIN }),
    dashboard: true,
  });
  return { app, stack, pipeline };
}
