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
import { acknowledge, acknowledgeWildcardResource } from './nag';
import { HandlerPlacement } from './placement';

/**
 * The steps, their asset folders and their construct IDs (a public contract: do not rename). A step with
 * `database: true` opens connections to the restored cluster: it runs in the VPC under every placement, with the
 * database security group, and trusts the RDS CA bundle. A later step that connects (say, a validation) joins
 * by the same flag, as ValidateRestore does.
 */
export const HANDLER_SPECS = [
  { key: 'snapshotCheck', id: 'SnapshotCheck', asset: 'snapshot-check', memory: 256, timeoutSeconds: 60, description: 'Resolves and checks the snapshot, locks the target' },
  { key: 'copySnapshot', id: 'CopySnapshot', asset: 'copy-snapshot', memory: 256, timeoutSeconds: 60, description: 'Copies the snapshot into the target region' },
  { key: 'checkCopyStatus', id: 'CheckCopyStatus', asset: 'check-copy-status', memory: 256, timeoutSeconds: 60, description: 'Reports the progress of the snapshot copy' },
  { key: 'deleteRds', id: 'DeleteRds', asset: 'delete-rds', memory: 256, timeoutSeconds: 60, description: 'Deletes the owned target cluster and reports progress' },
  { key: 'restoreSnapshot', id: 'RestoreSnapshot', asset: 'restore-snapshot', memory: 256, timeoutSeconds: 60, description: 'Restores the cluster and creates its writer' },
  { key: 'checkRestoreStatus', id: 'CheckRestoreStatus', asset: 'check-restore-status', memory: 256, timeoutSeconds: 60, description: 'Waits for the restored cluster and resets its master password' },
  { key: 'setupDbUsers', id: 'SetupDbUsers', asset: 'setup-db-users', memory: 512, timeoutSeconds: 300, description: 'Reconciles PostgreSQL roles and grants', database: true },
  { key: 'validateRestore', id: 'ValidateRestore', asset: 'validate-restore', memory: 256, timeoutSeconds: 300, description: 'Validates the restored cluster: master login, databases, queries', database: true },
  { key: 'cutover', id: 'Cutover', asset: 'cutover', memory: 256, timeoutSeconds: 60, description: 'Swaps the restored cluster in under the target identifier' },
  { key: 'archiveSnapshot', id: 'ArchiveSnapshot', asset: 'archive-snapshot', memory: 256, timeoutSeconds: 60, description: 'Deletes or retains the snapshot copy' },
  { key: 'snsNotification', id: 'SnsNotification', asset: 'sns-notification', memory: 256, timeoutSeconds: 60, description: 'Records the outcome and notifies' },
] as const;

/**
 * The asset folder (under `assets/`) of the SDK layer: the AWS SDK code of all the handlers, bundled once by
 * projenrc/sdk-layer.ts under `nodejs/node_modules/`, which Lambda's Node.js runtime puts on `NODE_PATH`. Every
 * function carries the layer; each handler bundle holds only our code (and pg) and requires the SDK clients it
 * uses from it. One layer per pipeline: its lifecycle and removal policy follow the pipeline, and CDK uploads the
 * asset once however many pipelines a stack holds.
 */
export const SDK_LAYER_ASSET = 'sdk-layer';

/** Step key of a handler. */
export type StepKey = typeof HANDLER_SPECS[number]['key'];

/** Whether a step opens connections to the restored cluster (see {@link HANDLER_SPECS}). */
export function connectsToDatabase(spec: typeof HANDLER_SPECS[number]): boolean {
  return 'database' in spec && spec.database;
}

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
  readonly placement: HandlerPlacement;
  /** Security groups of VPC interface endpoints that must admit the functions in the VPC on HTTPS. */
  readonly endpointSecurityGroups: ec2.ISecurityGroup[];
  readonly encryptionKey: kms.IKey;
  readonly config: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly reservedConcurrency?: number;
}

/**
 * The Lambda functions, one per step, loaded from the bundles in `assets/`.
 *
 * The functions that connect to the database run in the VPC. With `HandlerPlacement.ALL_IN_VPC` the others do
 * too, so that their traffic to AWS APIs stays on the network the user chose (VPC endpoints or NAT); with
 * `DATABASE_ONLY` they run outside it and call AWS APIs directly.
 */
export class PipelineHandlers extends Construct {
  /** The functions by step key. */
  public readonly functions: Record<StepKey, lambda.Function>;
  /** Security group of the AWS-API handlers (egress HTTPS only); only with `HandlerPlacement.ALL_IN_VPC`. */
  public readonly apiSecurityGroup?: ec2.SecurityGroup;
  /** Security group of the functions that connect to the database; the cluster admits it on the database port. */
  public readonly dbUsersSecurityGroup: ec2.SecurityGroup;
  /** Dead-letter queue of the functions (only asynchronous invocations can reach it). */
  public readonly deadLetterQueue: sqs.Queue;
  /** Log groups by step key. */
  public readonly logGroups: Record<StepKey, logs.LogGroup>;
  /** The layer with the AWS SDK code every function loads (see {@link SDK_LAYER_ASSET}). */
  public readonly sdkLayer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: PipelineHandlersProps) {
    super(scope, id);

    const allInVpc = props.placement === HandlerPlacement.ALL_IN_VPC;
    if (allInVpc) {
      this.apiSecurityGroup = new ec2.SecurityGroup(this, 'ApiSecurityGroup', {
        vpc: props.vpc,
        description: 'Aurora restore pipeline handlers: HTTPS to AWS APIs only',
        allowAllOutbound: false,
      });
      this.apiSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs (through NAT or VPC endpoints)');
    }
    this.dbUsersSecurityGroup = new ec2.SecurityGroup(this, 'DbUsersSecurityGroup', {
      vpc: props.vpc,
      description: 'Aurora restore pipeline setup-db-users handler: HTTPS to AWS APIs, PostgreSQL to the restored cluster',
      allowAllOutbound: false,
    });
    this.dbUsersSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Secrets Manager and DynamoDB (through NAT or VPC endpoints)');
    for (const endpoint of props.endpointSecurityGroups) {
      endpoint.addIngressRule(this.dbUsersSecurityGroup, ec2.Port.tcp(443), 'Aurora restore pipeline: functions that connect to the database');
      if (this.apiSecurityGroup) endpoint.addIngressRule(this.apiSecurityGroup, ec2.Port.tcp(443), 'Aurora restore pipeline: AWS-API handlers');
    }
    const subnetIds = props.vpc.selectSubnets(props.subnets).subnetIds;

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
    this.sdkLayer = new lambda.LayerVersion(this, 'SdkLayer', {
      code: lambda.Code.fromAsset(path.join(__dirname, '..', 'assets', SDK_LAYER_ASSET)),
      compatibleRuntimes: [runtime],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      description: 'Aurora restore pipeline: the AWS SDK code of the handlers, bundled once',
      removalPolicy: props.removalPolicy,
    });
    const functions: Partial<Record<StepKey, lambda.Function>> = {};
    const logGroups: Partial<Record<StepKey, logs.LogGroup>> = {};
    for (const spec of HANDLER_SPECS) {
      const logGroup = new logs.LogGroup(this, `${spec.id}LogGroup`, {
        retention: props.logRetention,
        encryptionKey: props.encryptionKey,
        removalPolicy: props.removalPolicy,
      });
      const isDb = connectsToDatabase(spec);
      const securityGroup = isDb ? this.dbUsersSecurityGroup : this.apiSecurityGroup;
      // Own role and execution policy instead of the AWS managed ones: logs only to this function's log group.
      const executionPolicy = new iam.ManagedPolicy(this, `${spec.id}ExecutionPolicy`, {
        description: `Aurora restore pipeline ${spec.id}: logs${securityGroup ? ' and VPC network interfaces' : ''}`,
        statements: [
          new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:log-stream:*`] }),
          ...(securityGroup ? networkInterfaceStatements(this, props.vpc, subnetIds, securityGroup) : []),
        ],
      });
      acknowledge(executionPolicy, {
        [`AwsSolutions-IAM5[Resource::<${logicalId(logGroup)}.Arn>:log-stream:*]`]: 'Log streams of this function\'s own log group; Lambda names them at run time.',
      });
      if (securityGroup) {
        acknowledge(executionPolicy, {
          'AwsSolutions-IAM5[Resource::*]': 'Lambda attaches the function to the VPC: ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions (read-only).',
        });
        acknowledgeWildcardResource(executionPolicy, networkInterfaceArn(this),
          'Lambda creates and deletes the function\'s network interfaces, whose IDs are not known in advance; creation is limited to the configured subnets and security group, deletion and address changes to this VPC, and the function\'s own code is denied all of them.');
        for (const subnetId of subnetIds) {
          acknowledgeWildcardResource(executionPolicy, sharedVpcArn(this, 'subnet', subnetId),
            'One configured subnet, by its ID (unique across accounts); the account is open because the subnets of a shared VPC belong to the VPC owner\'s account.');
        }
      }
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
        layers: [this.sdkLayer],
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
        ...(securityGroup ? { vpc: props.vpc, vpcSubnets: props.subnets, securityGroups: [securityGroup] } : {}),
        reservedConcurrentExecutions: props.reservedConcurrency,
        deadLetterQueue: this.deadLetterQueue,
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
        // Only the notification function is invoked asynchronously (stopped executions, from EventBridge): a
        // throttled or failed settlement is retried, and is safe to repeat. The state machine invokes the others.
        retryAttempts: spec.key === 'snsNotification' ? 2 : 0,
      });
      // Lambda checks the network-interface permissions when it creates a function in a VPC.
      fn.node.addDependency(executionPolicy);
      if (props.reservedConcurrency === undefined) {
        const shared = 'Reserved concurrency is opt-in (handlerReservedConcurrency): one execution invokes one function at a time, '
          + `and reserving for each of ${HANDLER_SPECS.length} functions per pipeline would use up the account-region's default 1,000 at fleet scale `
          + `(at 2 each, ${Math.floor(900 / (2 * HANDLER_SPECS.length))} pipelines reserve up to the 900 Lambda allows).`;
        acknowledge(fn, { 'NIST.800.53.R5-LambdaConcurrency': shared, 'HIPAA.Security-LambdaConcurrency': shared });
      }
      if (!securityGroup) {
        const outside = 'This function calls AWS APIs only, over TLS with IAM authentication, and holds no network path to data: '
          + 'it runs outside the VPC by design (handlerPlacement DATABASE_ONLY). Only the functions that connect to the database run in the VPC.';
        acknowledge(fn, {
          'NIST.800.53.R5-LambdaInsideVPC': outside,
          'HIPAA.Security-LambdaInsideVPC': outside,
          'PCI.DSS.321-LambdaInsideVPC': outside,
        });
        // The same rule in checkov, which reads suppressions from the resource's metadata.
        (fn.node.defaultChild as lambda.CfnFunction).addMetadata('checkov', { skip: [{ id: 'CKV_AWS_117', comment: outside }] });
      }
      functions[spec.key] = fn;
      logGroups[spec.key] = logGroup;
    }
    this.functions = functions as Record<StepKey, lambda.Function>;
    this.logGroups = logGroups as Record<StepKey, logs.LogGroup>;
  }
}

/** ARN pattern of the network interfaces Lambda creates for the functions, in the stack's region and account. */
function networkInterfaceArn(scope: Construct): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' });
}

/**
 * ARN of an EC2 subnet or VPC of the stack's region, in any account: a shared VPC and its subnets belong to the
 * owner's account, and their IDs are unique anyway.
 */
function sharedVpcArn(scope: Construct, resource: 'subnet' | 'vpc', id: string): string {
  return Stack.of(scope).formatArn({ service: 'ec2', account: '*', resource, resourceName: id });
}

/**
 * What Lambda needs to attach a function to the VPC (the actions of AWSLambdaVPCAccessExecutionRole), scoped as far
 * as EC2 and Lambda allow:
 * - CreateNetworkInterface on the configured subnets and the function's security group (plus the new interface,
 *   whose ID is not known in advance); subnets and VPC in any account, for shared VPCs;
 * - DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses on interfaces of this VPC. Not the subnets: after a
 *   change of subnets, Lambda deletes the interfaces in the old ones. `IfExists`: a permission check on an
 *   interface that does not exist (Lambda checks the role when it creates the function) carries no VPC;
 * - DescribeNetworkInterfaces and DescribeSubnets support no resource-level permissions (read-only);
 * - Lambda's own calls for the network interfaces carry no `lambda:SourceFunctionArn`, calls from the function's
 *   code always do: the code is denied all of these actions.
 */
function networkInterfaceStatements(scope: Construct, vpc: ec2.IVpc, subnetIds: string[], securityGroup: ec2.ISecurityGroup): iam.PolicyStatement[] {
  const stack = Stack.of(scope);
  const eni = networkInterfaceArn(scope);
  const write = ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'];
  return [
    new iam.PolicyStatement({
      actions: ['ec2:CreateNetworkInterface'],
      resources: [
        eni,
        ...subnetIds.map((id) => sharedVpcArn(scope, 'subnet', id)),
        stack.formatArn({ service: 'ec2', resource: 'security-group', resourceName: securityGroup.securityGroupId }),
      ],
    }),
    new iam.PolicyStatement({
      actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: [eni],
      conditions: { ArnEqualsIfExists: { 'ec2:Vpc': sharedVpcArn(scope, 'vpc', vpc.vpcId) } },
    }),
    new iam.PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], resources: ['*'] }),
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: write,
      resources: ['*'],
      conditions: { Null: { 'lambda:SourceFunctionArn': 'false' } },
    }),
  ];
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
