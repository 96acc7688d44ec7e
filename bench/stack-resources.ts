/**
 * Prints how many CloudFormation resources an AuroraRestorePipeline adds to a stack, with the required props only
 * and with every prop set, by synthesizing stacks of 1, 2 and 4 pipelines, and how many pipelines fit under
 * CloudFormation's 500 resources per stack, checked by synthesizing that many and one more (the CDK refuses a
 * stack over 500 at synth): the figures behind docs/fleet.md.
 *
 * Run: `npx projen bench:resources` (needs the bundles: `npx projen bundle`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AuroraRestorePipeline, AuroraRestorePipelineProps, DatabasePrivilege, HandlerPlacement } from '../src';

/** CloudFormation's quota of resources per stack. */
const STACK_LIMIT = 500;
const COUNTS = [1, 2, 4];
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-resources-'));

type Variant = (stack: Stack, vpc: ec2.IVpc, i: number) => AuroraRestorePipelineProps;

const required: Variant = (_stack, vpc, i) => ({
  sourceClusterIdentifier: `prod-${i}`,
  targetClusterIdentifier: `staging-${i}`,
  vpc,
});

/** Every prop set; the consumer's key, secrets and backup plan are made once per stack and shared. */
const everyProp: Variant = (stack, vpc, i) => {
  const shared = consumerResources(stack, vpc);
  return {
    sourceClusterIdentifier: `prod-${i}`,
    targetClusterIdentifier: `staging-${i}`,
    vpc,
    sourceRegion: 'us-east-1',
    includeAutomatedSnapshots: false,
    vpcSubnets: { subnets: vpc.privateSubnets },
    securityGroups: [shared.sg],
    port: 5433,
    writerInstanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
    serverlessV2MinCapacity: 1,
    serverlessV2MaxCapacity: 8,
    engineVersion: '16.4',
    deletionProtection: true,
    clusterTags: { team: 'data' },
    masterSecret: shared.master,
    databaseUsers: [
      { username: 'app_rw', secret: shared.appSecret, privilege: DatabasePrivilege.READ_WRITE, databases: ['app'] },
      { username: 'reporting', privilege: DatabasePrivilege.READ_ONLY },
    ],
    combinedUsersSecret: shared.combined,
    databaseNames: ['app'],
    replaceExistingTarget: true,
    assumeTargetOwned: true,
    finalSnapshotOnReplace: true,
    allowDisableDeletionProtection: true,
    retainSnapshotCopy: true,
    notificationEmails: ['dba@example.com'],
    encryptionKey: shared.key,
    snapshotCopyKey: shared.key,
    sourceSnapshotKey: kms.Key.fromKeyArn(stack, `SourceKey${i}`, 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555'),
    pollInterval: Duration.seconds(20),
    maxPollInterval: Duration.minutes(2),
    waitBudget: Duration.hours(6),
    timeout: Duration.hours(8),
    logRetention: logs.RetentionDays.TWO_YEARS,
    removalPolicy: RemovalPolicy.DESTROY,
    stateRetention: Duration.days(30),
    backupPlan: shared.plan,
    handlerReservedConcurrency: 1,
    handlerPlacement: HandlerPlacement.ALL_IN_VPC,
    endpointSecurityGroups: [shared.endpointSg],
  };
};

const consumer = new WeakMap<Stack, ReturnType<typeof makeConsumerResources>>();
function consumerResources(stack: Stack, vpc: ec2.IVpc) {
  if (!consumer.has(stack)) consumer.set(stack, makeConsumerResources(stack, vpc));
  return consumer.get(stack)!;
}
function makeConsumerResources(stack: Stack, vpc: ec2.IVpc) {
  const key = new kms.Key(stack, 'CustomerKey', { enableKeyRotation: true });
  return {
    key,
    sg: new ec2.SecurityGroup(stack, 'DbSg', { vpc, allowAllOutbound: false }),
    endpointSg: ec2.SecurityGroup.fromSecurityGroupId(stack, 'EndpointSg', 'sg-0eeeeeeeeeeeeeee1'),
    appSecret: new secretsmanager.Secret(stack, 'AppSecret', { encryptionKey: key }),
    combined: new secretsmanager.Secret(stack, 'CombinedSecret', { encryptionKey: key }),
    master: new secretsmanager.Secret(stack, 'Master', { encryptionKey: key }),
    plan: backup.BackupPlan.daily35DayRetention(stack, 'Plan'),
  };
}

/** Resources in a stack holding `n` pipelines built by `variant` (with `n` 0, the consumer's own resources of `everyProp`). */
function resources(variant: Variant, n: number): { total: number; byType: Record<string, number> } {
  const app = new App({ outdir });
  const stack = new Stack(app, `Bench${n}`, { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
    privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0aaaaaaaaaaaaaaa2'],
  });
  for (let i = 1; i <= n; i++) new AuroraRestorePipeline(stack, `Pipeline${i}`, variant(stack, vpc, i));
  if (n === 0 && variant === everyProp) consumerResources(stack, vpc);
  const template = app.synth().getStackByName(stack.stackName).template as { Resources?: Record<string, { Type: string }> };
  const byType: Record<string, number> = {};
  const all = template.Resources ?? {};
  for (const r of Object.values(all)) byType[r.Type] = (byType[r.Type] ?? 0) + 1;
  return { total: Object.keys(all).length, byType };
}

for (const [name, variant] of [['required props only', required], ['every prop set', everyProp]] as const) {
  const base = variant === everyProp ? resources(variant, 0).total : 0;
  const rows = COUNTS.map((n) => ({ n, total: resources(variant, n).total }));
  const perPipeline = (rows[rows.length - 1].total - rows[0].total) / (rows[rows.length - 1].n - rows[0].n);
  const fixed = rows[0].total - perPipeline;
  console.log(`\n${name}: ${perPipeline} resources per pipeline, ${fixed} shared per stack (${base} of them the consumer's own, made by this script)`);
  for (const { n, total } of rows) console.log(`  ${String(n).padStart(2)} pipeline${n === 1 ? ' ' : 's'} ${String(total).padStart(5)} resources`);
  const fit = Math.floor((STACK_LIMIT - fixed) / perPipeline);
  const atFit = resources(variant, fit).total;
  let over: string;
  try {
    over = `${resources(variant, fit + 1).total} resources: NOT refused`;
  } catch (e) {
    over = /TooManyResourcesInStack|greater than allowed maximum/.test(String(e)) ? 'refused at synth (over 500)' : `failed: ${e}`;
  }
  console.log(`  fit in one stack (${STACK_LIMIT} resources): ${fit} pipelines (${fit}: ${atFit} resources; ${fit + 1}: ${over})`);
}

const one = resources(required, 1).byType;
console.log('\none pipeline, required props only, by type:');
for (const [type, count] of Object.entries(one).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`  ${String(count).padStart(3)} ${type}`);
fs.rmSync(outdir, { recursive: true, force: true });
