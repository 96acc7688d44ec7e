import * as path from 'path';
import { CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PIPELINE_CONFIG_ENV } from './contracts';
import { acknowledge } from './nag';

/** The nine steps, their asset folders and their construct IDs (a public contract: do not rename). */
export const HANDLER_SPECS = [
  { key: 'snapshotCheck', id: 'SnapshotCheck', asset: 'snapshot-check', memory: 256, timeoutSeconds: 60, description: 'Resolves and checks the snapshot, locks the target' },
  { key: 'copySnapshot', id: 'CopySnapshot', asset: 'copy-snapshot', memory: 256, timeoutSeconds: 60, description: 'Copies the snapshot into the target region' },
  { key: 'checkCopyStatus', id: 'CheckCopyStatus', asset: 'check-copy-status', memory: 256, timeoutSeconds: 60, description: 'Reports the progress of the snapshot copy' },
  { key: 'deleteRds', id: 'DeleteRds', asset: 'delete-rds', memory: 256, timeoutSeconds: 60, description: 'Deletes the owned target cluster and reports progress' },
  { key: 'restoreSnapshot', id: 'RestoreSnapshot', asset: 'restore-snapshot', memory: 256, timeoutSeconds: 60, description: 'Restores the cluster and creates its writer' },
  { key: 'checkRestoreStatus', id: 'CheckRestoreStatus', asset: 'check-restore-status', memory: 256, timeoutSeconds: 60, description: 'Waits for the restored cluster and resets its master password' },
  { key: 'setupDbUsers', id: 'SetupDbUsers', asset: 'setup-db-users', memory: 512, timeoutSeconds: 300, description: 'Reconciles PostgreSQL roles and grants' },
  { key: 'archiveSnapshot', id: 'ArchiveSnapshot', asset: 'archive-snapshot', memory: 256, timeoutSeconds: 60, description: 'Deletes or retains the snapshot copy' },
  { key: 'snsNotification', id: 'SnsNotification', asset: 'sns-notification', memory: 256, timeoutSeconds: 60, description: 'Records the outcome and notifies' },
] as const;

/** Step key of a handler. */
export type StepKey = typeof HANDLER_SPECS[number]['key'];

/**
 * The newest Node.js runtime the consumer's aws-cdk-lib knows. The bundles target Node 22 syntax, and
 * every newer runtime runs them.
 */
export function newestNodeRuntime(): lambda.Runtime {
  let best: lambda.Runtime | undefined;
  let bestMajor = 0;
  for (const runtime of lambda.Runtime.ALL) {
    const m = /^nodejs(\d+)\.x$/.exec(runtime.name);
    if (!m || runtime.isVariable || runtime.family !== lambda.RuntimeFamily.NODEJS) continue;
    const major = Number(m[1]);
    if (major > bestMajor) {
      best = runtime;
      bestMajor = major;
    }
  }
  return best ?? lambda.Runtime.NODEJS_22_X;
}

/** Inputs of {@link PipelineHandlers}. */
export interface PipelineHandlersProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly encryptionKey: kms.IKey;
  readonly config: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly reservedConcurrency: number;
}

/**
 * The nine Lambda functions, one per step, loaded from the bundles in `assets/`.
 *
 * All run in the VPC: the setup-db-users function because it connects to the database, the others so
 * that their traffic to AWS APIs stays on the network the user chose (VPC endpoints or NAT).
 */
export class PipelineHandlers extends Construct {
  /** The functions by step key. */
  public readonly functions: Record<StepKey, lambda.Function>;
  /** Security group of the eight AWS-API handlers (egress HTTPS only). */
  public readonly apiSecurityGroup: ec2.SecurityGroup;
  /** Security group of the setup-db-users function; the cluster admits it on the database port. */
  public readonly dbUsersSecurityGroup: ec2.SecurityGroup;
  /** Dead-letter queue of the functions (only asynchronous invocations can reach it). */
  public readonly deadLetterQueue: sqs.Queue;
  /** Log groups by step key. */
  public readonly logGroups: Record<StepKey, logs.LogGroup>;

  constructor(scope: Construct, id: string, props: PipelineHandlersProps) {
    super(scope, id);

    this.apiSecurityGroup = new ec2.SecurityGroup(this, 'ApiSecurityGroup', {
      vpc: props.vpc,
      description: 'Aurora restore pipeline handlers: HTTPS to AWS APIs only',
      allowAllOutbound: false,
    });
    this.apiSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs (through NAT or VPC endpoints)');
    this.dbUsersSecurityGroup = new ec2.SecurityGroup(this, 'DbUsersSecurityGroup', {
      vpc: props.vpc,
      description: 'Aurora restore pipeline setup-db-users handler: HTTPS to AWS APIs, PostgreSQL to the restored cluster',
      allowAllOutbound: false,
    });
    this.dbUsersSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Secrets Manager (through NAT or VPC endpoints)');

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });

    acknowledge(this.deadLetterQueue, {
      'AwsSolutions-SQS3': 'This queue is itself the dead-letter queue and failure destination of the functions.',
      'Serverless-SQSRedrivePolicy': 'This queue is itself the dead-letter queue and failure destination of the functions; a queue behind it would hold the same messages.',
    });

    checkEnvironmentSize(this, props.config);
    const runtime = newestNodeRuntime();
    const functions: Partial<Record<StepKey, lambda.Function>> = {};
    const logGroups: Partial<Record<StepKey, logs.LogGroup>> = {};
    for (const spec of HANDLER_SPECS) {
      const logGroup = new logs.LogGroup(this, `${spec.id}LogGroup`, {
        retention: props.logRetention,
        encryptionKey: props.encryptionKey,
        removalPolicy: props.removalPolicy,
      });
      const isDb = spec.key === 'setupDbUsers';
      // Own role and execution policy instead of the AWS managed ones: logs only to this function's log group.
      const executionPolicy = new iam.ManagedPolicy(this, `${spec.id}ExecutionPolicy`, {
        description: `Aurora restore pipeline ${spec.id}: logs and VPC network interfaces`,
        statements: [
          new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:log-stream:*`] }),
          new iam.PolicyStatement({
            actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
            resources: ['*'],
          }),
        ],
      });
      acknowledge(executionPolicy, {
        'AwsSolutions-IAM5[Resource::*]': 'Lambda manages the VPC network interfaces of the function; these EC2 actions support no resource-level permissions.',
        [`AwsSolutions-IAM5[Resource::<${logicalId(logGroup)}.Arn>:log-stream:*]`]: 'Log streams of this function\'s own log group; Lambda names them at run time.',
      });
      const role = new iam.Role(this, `${spec.id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Aurora restore pipeline ${spec.id} handler`,
      });
      // Attached from the policy's side: the key policy may name the role (secret grants), and the log group
      // uses the key, so the role must not depend on the policy.
      executionPolicy.attachToRole(role);
      acknowledge(role, {
        'AwsSolutions-IAM5[Resource::*]': 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
        'NIST.800.53.R5-IAMNoInlinePolicy': 'The inline policy holds the least-privilege grants of this one role, scoped to ARNs; it is never shared with another principal.',
        'HIPAA.Security-IAMNoInlinePolicy': 'The inline policy holds the least-privilege grants of this one role, scoped to ARNs; it is never shared with another principal.',
        'PCI.DSS.321-IAMNoInlinePolicy': 'The inline policy holds the least-privilege grants of this one role, scoped to ARNs; it is never shared with another principal.',
      });
      const fn = new lambda.Function(this, spec.id, {
        role,
        description: `Aurora restore pipeline: ${spec.description}`,
        runtime,
        architecture: lambda.Architecture.ARM_64,
        handler: 'index.handler',
        code: lambda.Code.fromAsset(path.join(__dirname, '..', 'assets', spec.asset)),
        memorySize: spec.memory,
        timeout: Duration.seconds(spec.timeoutSeconds),
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        environment: {
          [PIPELINE_CONFIG_ENV]: props.config,
          // Node 20+ runtimes do not load the Amazon RDS CA bundle by default; the handler passes it to TLS.
          ...(isDb ? { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' } : {}),
        },
        environmentEncryption: props.encryptionKey,
        vpc: props.vpc,
        vpcSubnets: props.subnets,
        securityGroups: [isDb ? this.dbUsersSecurityGroup : this.apiSecurityGroup],
        reservedConcurrentExecutions: props.reservedConcurrency,
        deadLetterQueue: this.deadLetterQueue,
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
        // Only the notification function is invoked asynchronously (stopped executions, from EventBridge): a
        // throttled or failed settlement is retried, and is safe to repeat. The state machine invokes the others.
        retryAttempts: spec.key === 'snsNotification' ? 2 : 0,
      });
      // Lambda checks the network-interface permissions when it creates a function in a VPC.
      fn.node.addDependency(executionPolicy);
      functions[spec.key] = fn;
      logGroups[spec.key] = logGroup;
    }
    this.functions = functions as Record<StepKey, lambda.Function>;
    this.logGroups = logGroups as Record<StepKey, logs.LogGroup>;
  }
}

function logicalId(construct: Construct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Lambda's limit on the total size of a function's environment variables. */
const LAMBDA_ENVIRONMENT_LIMIT = 4096;
/** A generous length for a value only known at deploy time (an ARN, a name). */
const TOKEN_ALLOWANCE = 140;

/** Fails at synth time, saying what to do, when the functions' configuration could exceed Lambda's 4 KB. */
function checkEnvironmentSize(scope: Construct, config: string) {
  const estimate = (value: unknown): number => {
    if (typeof value === 'string') return value.length;
    if (Array.isArray(value)) return value.reduce((n: number, v) => n + estimate(v), 0);
    if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      return 'Fn::Join' in o ? estimate((o['Fn::Join'] as unknown[])[1]) : TOKEN_ALLOWANCE;
    }
    return String(value).length;
  };
  // The largest environment is setup-db-users': the configuration plus NODE_EXTRA_CA_CERTS.
  const bytes = estimate(Stack.of(scope).resolve(config)) + PIPELINE_CONFIG_ENV.length + 'NODE_EXTRA_CA_CERTS/var/runtime/ca-cert.pem'.length;
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT) {
    throw new Error(`AuroraRestorePipeline: the functions' configuration would take about ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT}-byte `
      + 'limit for environment variables. Use fewer or shorter clusterTags, or fewer securityGroups.');
  }
}
