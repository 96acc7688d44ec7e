import { Annotations, ArnFormat, Aws, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  DatabasePrivilege, PipelineConfig, checkShares, CheckShares, DbUserSpec, EXECUTION_STATUS_CHANGE, PreviousTargetRetention, ReplaceStrategy,
  TABLE_KEYS, UnmanagedLogins,
} from './contracts';
import type { DatabaseUser } from './database-user';
import { PipelineHandlers } from './handlers';
import { PipelineDashboard, runMetric } from './monitoring';
import { acknowledge, acknowledgeWildcardResource } from './nag';
import { grantDescribeOwnExecutions, grantStepPermissions } from './permissions';
import { HandlerPlacement } from './placement';
import { RUN_METRICS, RunPhase } from './run-metrics';
import { PipelineSchedule } from './schedule';
import { PipelineDefinition } from './state-machine';
import { configuredWaitLoops, defaultTimeout, normaliseIdentifier, resolveSourceAccount, TIMING_DEFAULTS, validateProps } from './validation';
import type { ValidationQuery } from './validation-query';

/**
 * Properties of `AuroraRestorePipeline`.
 */
export interface AuroraRestorePipelineProps {
  // ----- what to restore, and where -----

  /**
   * The Aurora PostgreSQL cluster whose snapshots are restored. It is never modified or deleted. Used in lower
   * case, as RDS stores it (a synth warning says so when written otherwise); may not start with a prefix the
   * pipeline reserves for what it makes (`arp-copy-`, `arp-final-`, `arp-tmp-`).
   */
  readonly sourceClusterIdentifier: string;

  /**
   * The cluster this pipeline creates, or replaces when it owns it. Used in lower case, as RDS stores it; may not
   * start with `arp-copy-`, `arp-final-` or `arp-tmp-`.
   */
  readonly targetClusterIdentifier: string;

  /** The VPC of the restored cluster and of the pipeline's Lambda functions that run in a VPC (see `handlerPlacement`). */
  readonly vpc: ec2.IVpc;

  /**
   * The region of the source cluster and its snapshots. When it differs from the stack's region, each
   * snapshot is copied into the stack's region first, re-encrypted with `snapshotCopyKey`.
   *
   * @default - the stack's region (no copy)
   */
  readonly sourceRegion?: string;

  /**
   * The AWS account of the source cluster, when it is not the pipeline's. Deploy an `AuroraRestoreSource` there first
   * (in this stack's region, with `pipelineAccount` set to this stack's account). The pipeline then assumes its role,
   * has a shareable copy of the snapshot made there on its share key, restores from that copy, and removes it
   * afterwards. See docs/cross-account.md.
   *
   * @example
   * new AuroraRestorePipeline(this, 'Pipeline', {
   *   sourceClusterIdentifier: 'prod-aurora',
   *   sourceRegion: 'us-east-1',
   *   sourceAccount: '111111111111', // AuroraRestoreSource deployed there, in this stack's region
   *   targetClusterIdentifier: 'staging-aurora',
   *   vpc,
   * });
   *
   * @default - the pipeline's own account
   */
  readonly sourceAccount?: string;

  /**
   * The role of the `AuroraRestoreSource` in `sourceAccount` (its `roleArn`). Only with `sourceAccount`; must be a
   * role of that account. Needed when this stack's account or region is a token, or the companion's role was named
   * otherwise.
   *
   * @default - the role `AuroraRestoreSource` creates for this stack's account and region:
   * `arn:<partition>:iam::<sourceAccount>:role/arp-source-<cluster>-<hash>`
   */
  readonly sourceRoleArn?: string;

  /**
   * The share key of the `AuroraRestoreSource` in `sourceAccount` (its `shareKeyArn`), in this stack's region. Only
   * with `sourceAccount`. Giving the key's ARN scopes the restore function's KMS permission to that key.
   *
   * @default - the share key's alias `AuroraRestoreSource` creates for this stack's account and region:
   * `arn:<partition>:kms:<region>:<sourceAccount>:alias/arp-source-<cluster>-<hash>`
   */
  readonly sourceShareKeyArn?: string;

  /**
   * Whether automated snapshots count when the pipeline looks for the latest snapshot.
   *
   * @default true
   */
  readonly includeAutomatedSnapshots?: boolean;

  // ----- placement of the restored cluster -----

  /**
   * Subnets of the restored cluster (its DB subnet group) and of the pipeline's functions in the VPC, which need a
   * way to the AWS APIs they call: NAT, or VPC endpoints (see `handlerPlacement`).
   *
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Which of the pipeline's functions run in the VPC.
   *
   * With `DATABASE_ONLY`, only setup-db-users (it connects to the database) runs in the VPC; it calls Secrets Manager
   * and DynamoDB, so its subnets need NAT, or a Secrets Manager interface endpoint and a DynamoDB gateway endpoint.
   * The other functions call AWS APIs directly. With `ALL_IN_VPC`, every function runs in the VPC, which then needs
   * NAT or endpoints for RDS, DynamoDB, SNS and Secrets Manager, and NAT for a cross-region restore.
   *
   * @default HandlerPlacement.DATABASE_ONLY
   */
  readonly handlerPlacement?: HandlerPlacement;

  /**
   * Security groups of the VPC interface endpoints the functions in the VPC use (say, Secrets Manager's). Each gets
   * an ingress rule admitting those functions on HTTPS. The pipeline never creates endpoints: pass these when your
   * endpoints admit only listed security groups; leave them out with NAT, or with endpoints open to the VPC.
   *
   * @default - no rule is added
   */
  readonly endpointSecurityGroups?: ec2.ISecurityGroup[];

  /**
   * An existing DB subnet group for the restored cluster.
   *
   * @default - a subnet group is created from `vpcSubnets`
   */
  readonly subnetGroup?: rds.ISubnetGroup;

  /**
   * Security groups of the restored cluster. The pipeline adds an ingress rule to each, admitting its
   * setup-db-users function on the database port.
   *
   * @default - a security group is created
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The database port of the restored cluster.
   *
   * @default 5432
   */
  readonly port?: number;

  // ----- shape of the restored cluster -----

  /**
   * The writer instance's class.
   *
   * @example ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE)
   * @default - Aurora Serverless v2 (`db.serverless`)
   */
  readonly writerInstanceType?: ec2.InstanceType;

  /**
   * Minimum Aurora Serverless v2 capacity in ACUs, when the writer is serverless.
   *
   * @default 0.5
   */
  readonly serverlessV2MinCapacity?: number;

  /**
   * Maximum Aurora Serverless v2 capacity in ACUs, when the writer is serverless.
   *
   * @default 4
   */
  readonly serverlessV2MaxCapacity?: number;

  /**
   * Engine version of the restored cluster, e.g. `16.4`; must be an allowed upgrade from the snapshot's.
   *
   * @default - the snapshot's engine version
   */
  readonly engineVersion?: string;

  /**
   * Cluster parameter group of the restored cluster.
   *
   * @default - the engine's default parameter group
   */
  readonly clusterParameterGroup?: rds.IParameterGroup;

  /**
   * Deletion protection of the restored cluster.
   *
   * @default false
   */
  readonly deletionProtection?: boolean;

  /**
   * Tags of the restored cluster, its writer and the snapshot copy (besides the pipeline's ownership tags).
   *
   * @default - none
   */
  readonly clusterTags?: { [key: string]: string };

  // ----- credentials -----

  /**
   * Secret with the master password of the restored cluster (JSON key `password`). After every restore the
   * pipeline resets the master password to it, so the source's master password never works on the copy.
   *
   * @default - a secret is generated, encrypted with `encryptionKey`
   */
  readonly masterSecret?: secretsmanager.ISecret;

  /**
   * Database roles to create or update, with their grants, after every restore.
   *
   * @default - none
   */
  readonly databaseUsers?: DatabaseUser[];

  /**
   * A secret in the original design's layout: `app_username` and `app_password` (a READ_WRITE role),
   * `readonly_username` and `readonly_password` (a READ_ONLY role), granted on `databaseNames`, schema `public`.
   *
   * @default - none
   */
  readonly combinedUsersSecret?: secretsmanager.ISecret;

  /**
   * The databases users are granted on when a user does not list its own.
   *
   * @default ['postgres']
   */
  readonly databaseNames?: string[];

  /**
   * What happens, after every restore, to the login roles of the copy that are neither configured users,
   * nor the master user, nor PostgreSQL's or Aurora's own (`pg_*`, `rds*`): with `DISABLE` they get `NOLOGIN`
   * and lose their password (never dropped), so no production password works on the copy; with `KEEP`
   * they stay as they were in the source cluster.
   *
   * @default UnmanagedLogins.DISABLE
   */
  readonly unmanagedLogins?: UnmanagedLogins;

  // ----- validation -----

  /**
   * Queries that must pass on every restored cluster before the pipeline relies on it (ValidateRestore, after
   * the database users): each runs as the master user in a READ ONLY transaction under
   * `validationStatementTimeout`, and passes when it returns a row whose first column is true or a number > 0.
   * A failing one fails the run with `ValidationFailed`, naming the query. Built in, always, with or without
   * queries: the master user logs in with `masterSecret`, and every configured database exists.
   *
   * @example
   * validationQueries: [
   *   { name: 'orders-present', database: 'app', sql: 'SELECT count(*) FROM orders' },
   *   { name: 'fresh', database: 'app', sql: "SELECT max(created_at) > now() - interval '2 days' FROM orders" },
   * ]
   *
   * @default - no queries: the built-in checks only
   */
  readonly validationQueries?: ValidationQuery[];

  /**
   * `statement_timeout` (and `lock_timeout`) of each validation query. A query that runs longer fails the run
   * with `ValidationFailed`. At least 1 second, at most 4 minutes (the validation function's own limit is 5).
   *
   * @default Duration.seconds(30)
   */
  readonly validationStatementTimeout?: Duration;

  // ----- replacing an existing target -----

  /**
   * Whether an existing target cluster is replaced (see `replaceStrategy`). Only a cluster the pipeline owns is ever
   * deleted or renamed: one carrying its ownership tag, or any when `assumeTargetOwned` is set.
   *
   * @default true
   */
  readonly replaceExistingTarget?: boolean;

  /**
   * How an existing target is replaced. `SWAP` restores beside it under a temporary identifier (`arp-tmp-…`), sets
   * the new cluster up and validates it, then renames the target away (`arp-prev-<target>`) and the new cluster to
   * the target's identifier: the target is down only for the two renames, and a failure before the cutover leaves
   * it as it was. `DELETE_FIRST` deletes the target first, for accounts that cannot hold two clusters at once.
   * With no existing target, both restore straight under the target's identifier.
   *
   * @default ReplaceStrategy.SWAP
   */
  readonly replaceStrategy?: ReplaceStrategy;

  /**
   * What a swap does with the previous target after the cutover: delete it at once (with a final snapshot when
   * `finalSnapshotOnReplace`), or keep it, renamed `arp-prev-<target>` and tagged, as a rollback window until the
   * next swap deletes it before its own cutover.
   *
   * @default PreviousTargetRetention.DELETE
   */
  readonly previousTargetRetention?: PreviousTargetRetention;

  /**
   * Keep a swap's temporary cluster, tagged `aurora-restore-pipeline:failed-restore=true`, when the run fails before
   * the cutover (for inspection), instead of deleting it. Delete it by hand afterwards.
   *
   * @default false
   */
  readonly retainFailedRestore?: boolean;

  /**
   * Treat an existing target cluster without the pipeline's ownership tag as owned, so it may be replaced.
   * For taking over a cluster made by hand; the pipeline's own restores carry the tag anyway. IAM still allows
   * deletes only under the ownership tag: the pipeline tags the target and its instances named after it
   * (`<target>*`) first, so in the same region the source identifier may not start with the target's.
   *
   * @default false
   */
  readonly assumeTargetOwned?: boolean;

  /**
   * Take a final snapshot of the target cluster before deleting it.
   *
   * @default true
   */
  readonly finalSnapshotOnReplace?: boolean;

  /**
   * How many final snapshots of the target to keep, the one just taken included (at least 1). After each delete
   * that took one, the pipeline deletes the older final snapshots it made itself (named as its final snapshots and
   * tagged with this pipeline's ownership tag), keeping the newest `finalSnapshotsToKeep`. Snapshots it did not
   * make are never touched.
   *
   * @default 5
   */
  readonly finalSnapshotsToKeep?: number;

  /**
   * Allow the pipeline to turn off the target's deletion protection before deleting it.
   *
   * @default false
   */
  readonly allowDisableDeletionProtection?: boolean;

  // ----- the copied snapshot -----

  /**
   * Keep the cross-region snapshot copy after a restore, and after a failed one (tagged as retained), instead of
   * deleting it.
   *
   * @default false
   */
  readonly retainSnapshotCopy?: boolean;

  // ----- notifications -----

  /**
   * The topic that receives success and failure notifications and the alarms.
   *
   * @default - a topic is created, encrypted with `encryptionKey`
   */
  readonly notificationTopic?: sns.ITopic;

  /**
   * E-mail addresses subscribed to the topic.
   *
   * @default - none
   */
  readonly notificationEmails?: string[];

  // ----- keys -----

  /**
   * The key that encrypts the tables, topic, queue, logs, secrets and the state machine's data.
   *
   * @default - a key with rotation is created
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * The key, in the stack's region, that encrypts the snapshot copy and the restored cluster.
   *
   * @default - `encryptionKey`
   */
  readonly snapshotCopyKey?: kms.IKey;

  /**
   * The customer-managed key of the source snapshots, in the source region. It scopes the pipeline's KMS
   * permissions on the source side to that key.
   *
   * @default - any key of the source region, used through RDS only
   */
  readonly sourceSnapshotKey?: kms.IKey;

  // ----- timing -----

  /**
   * The shortest wait of a wait loop (copy, delete, restore, password reset, a swap's renames): the interval of the
   * checks through a narrow expected completion window (a wide one is checked every quarter of its width, at most every
   * 2 × pollInterval), and the first wait of a backoff. See docs/timing.md.
   *
   * @default Duration.seconds(10)
   */
  readonly pollInterval?: Duration;

  /**
   * The longest wait of a wait loop: the step of the long waits towards an expected completion (from RDS's progress
   * or the target's previous runs). A backoff with nothing to go on stops at 90 seconds (or this, if shorter).
   *
   * @default Duration.minutes(5)
   */
  readonly maxPollInterval?: Duration;

  /**
   * How much each wait of a backoff grows (with nothing to go on, or past an expected completion): 10, 20, 40, 80 s and
   * on to the backoff's cap with the defaults.
   *
   * @default 2
   */
  readonly pollBackoffRate?: number;

  /**
   * The time budget of each wait loop (the copy, the delete, the restore, a swap's cutover); past it the pipeline fails with
   * `OperationTimedOut`. The default lets a 24-hour copy or restore finish. Unless `timeout` is set, the execution's
   * timeout follows it: one budget per wait loop, plus two hours.
   *
   * @default Duration.hours(26)
   */
  readonly waitBudget?: Duration;

  /**
   * The overall timeout of one execution.
   *
   * A lock older than this is considered stale. Each wait loop of the configured flow may use one `waitBudget`:
   * the copy, the delete and the restore with `ReplaceStrategy.DELETE_FIRST` (or `replaceExistingTarget: false`);
   * with `ReplaceStrategy.SWAP` the copy, the restore, the delete of a previous target an earlier swap kept, the
   * cutover, and with `PreviousTargetRetention.DELETE` the retirement of the previous target (5 loops; 4 with
   * `KEEP`). Keep the timeout at least those budgets, plus time for the other steps, so that a slow operation ends
   * in `OperationTimedOut`, naming it, not in a bare execution timeout: the construct warns otherwise. Left out, it
   * follows `waitBudget`; synth fails if that would pass Step Functions' one-year limit.
   *
   * @default - one waitBudget per wait loop of the configured flow, plus two hours (132 h with the default SWAP flow
   * and waitBudget; 106 h with PreviousTargetRetention.KEEP; 80 h with DELETE_FIRST)
   */
  readonly timeout?: Duration;

  // ----- housekeeping -----

  /**
   * Retention of the functions' and the state machine's logs.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Removal policy of the tables, key, topic, queue and log groups.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long an operation's state item is kept (DynamoDB TTL). The audit trail is kept.
   *
   * @default Duration.days(90)
   */
  readonly stateRetention?: Duration;

  /**
   * An AWS Backup plan that backs up the state and audit tables (besides their point-in-time recovery).
   *
   * @default - no backup plan; point-in-time recovery only
   */
  readonly backupPlan?: backup.IBackupPlan;

  /**
   * Reserved concurrency of each of the pipeline's functions: a positive integer, reserved for each function out of
   * the account-region's concurrency (1,000 by default, shared by every function there). A pipeline needs little:
   * one execution invokes one function at a time. Reserving caps a function and guarantees it capacity, but
   * every function of every pipeline comes out of the same pool, of which Lambda lets 900 of the default 1,000 be
   * reserved. See docs/fleet.md.
   *
   * @default - no reserved concurrency: the functions share the account's unreserved concurrency
   */
  readonly handlerReservedConcurrency?: number;

  // ----- operations -----

  /**
   * When to run a restore on its own: an EventBridge Scheduler schedule starts the state machine with
   * `{"requestedBy": "schedule"}` (no flexible time window; failed starts are retried for an hour, then land in a
   * dead-letter queue). The time zone is part of the expression.
   *
   * @example scheduler.ScheduleExpression.cron({ hour: '2', minute: '0', timeZone: TimeZone.EUROPE_BERLIN })
   * @default - no schedule: start restores yourself
   */
  readonly schedule?: scheduler.ScheduleExpression;

  /**
   * Whether to create a CloudWatch dashboard: runs by outcome, restore time and snapshot age, phase durations, the
   * functions' errors and throttles, the alarms.
   *
   * @default true
   */
  readonly dashboard?: boolean;
}

/**
 * Restores an Aurora PostgreSQL cluster from a snapshot with a Step Functions pipeline: snapshot check →
 * cross-region copy → guarded delete of the previous target → restore with a writer → database users →
 * archive of the copy → SNS notification. State and an audit trail live in DynamoDB.
 *
 * @example
 * const pipeline = new AuroraRestorePipeline(this, 'Restore', {
 *   sourceClusterIdentifier: 'prod-aurora',
 *   targetClusterIdentifier: 'staging-aurora',
 *   vpc,
 * });
 * pipeline.grantStartExecution(role);
 */
export class AuroraRestorePipeline extends Construct {
  /** The Step Functions state machine. Start an execution to run a restore. */
  public readonly stateMachine: sfn.StateMachine;
  /** State of each operation, keyed by `operation_id`, plus the target locks. */
  public readonly stateTable: dynamodb.Table;
  /** Audit trail: `operation_id` + `time_step`. */
  public readonly auditTable: dynamodb.Table;
  /** The notification topic. */
  public readonly topic: sns.ITopic;
  /** The key that encrypts the pipeline's data. */
  public readonly encryptionKey: kms.IKey;
  /** The alarms, all sent to `topic`. */
  public readonly alarms: cloudwatch.IAlarm[];
  /** The master secret of the restored cluster. */
  public readonly masterSecret: secretsmanager.ISecret;
  /** Security groups of the restored cluster. */
  public readonly clusterSecurityGroups: ec2.ISecurityGroup[];
  /** The security group of the functions that connect to the database (setup-db-users); always in the VPC. */
  public readonly dbUsersSecurityGroup: ec2.ISecurityGroup;
  /**
   * The EventBridge rule that sends the state machine's `ABORTED` and `TIMED_OUT` executions to the
   * notification function, which releases their lock on the target, records them as failed, settles their
   * snapshot copy and notifies.
   */
  public readonly executionStoppedRule: events.Rule;
  /**
   * The schedule that starts restores, with its role and dead-letter queue.
   * @default - none: the `schedule` prop is not set
   */
  public readonly schedule?: PipelineSchedule;
  /**
   * The pipeline's CloudWatch dashboard.
   * @default - none: the `dashboard` prop is false
   */
  public readonly dashboard?: cloudwatch.Dashboard;
  private readonly targetClusterIdentifier: string;

  constructor(scope: Construct, id: string, props: AuroraRestorePipelineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const targetRegion = stack.region;
    validateProps(this, props, targetRegion);
    // The source account's side (role, share key), defaults computed as AuroraRestoreSource names them; none in one account.
    const crossAccount = resolveSourceAccount(props, stack.account, targetRegion, stack.partition);
    // One spelling from here on, in every ARN and in the handlers' configuration.
    props = {
      ...props,
      sourceClusterIdentifier: normaliseIdentifier(this, 'sourceClusterIdentifier', props.sourceClusterIdentifier),
      targetClusterIdentifier: normaliseIdentifier(this, 'targetClusterIdentifier', props.targetClusterIdentifier),
    };

    const sourceRegion = props.sourceRegion ?? targetRegion;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const timeout = props.timeout ?? defaultTimeout(props);
    const writerInstanceIdentifier = `${props.targetClusterIdentifier}-writer`;
    this.targetClusterIdentifier = props.targetClusterIdentifier;

    // ----- key -----
    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'EncryptionKey', {
      description: `Aurora restore pipeline ${props.targetClusterIdentifier}: tables, topic, logs, secrets, snapshot copies`,
      enableKeyRotation: true,
      removalPolicy,
    });
    allowServicesOnKey(this, this.encryptionKey);
    const snapshotCopyKey = props.snapshotCopyKey ?? this.encryptionKey;

    // ----- tables -----
    this.stateTable = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      removalPolicy,
    });
    this.auditTable = new dynamodb.Table(this, 'AuditTable', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.auditSortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });

    // ----- topic -----
    if (props.notificationTopic) {
      this.topic = props.notificationTopic;
    } else {
      this.topic = new sns.Topic(this, 'Topic', {
        displayName: `Aurora restore pipeline ${props.targetClusterIdentifier}`,
        masterKey: this.encryptionKey,
        enforceSSL: true,
      });
    }

    // ----- network -----
    const subnets = props.vpcSubnets ?? {};
    const subnetGroup = props.subnetGroup ?? new rds.SubnetGroup(this, 'SubnetGroup', {
      vpc: props.vpc,
      vpcSubnets: subnets,
      description: `Aurora restore pipeline: subnets of ${props.targetClusterIdentifier}`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.clusterSecurityGroups = props.securityGroups ?? [new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc: props.vpc,
      description: `Aurora restore pipeline: restored cluster ${props.targetClusterIdentifier}`,
      allowAllOutbound: false,
    })];
    const port = props.port ?? 5432;

    // ----- secrets -----
    this.masterSecret = props.masterSecret ?? new secretsmanager.Secret(this, 'MasterSecret', {
      description: `Master password of the restored cluster ${props.targetClusterIdentifier} (reset after every restore)`,
      encryptionKey: this.encryptionKey,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'password',
        passwordLength: 32,
        excludeCharacters: '"@/\\\' `',
      },
      removalPolicy,
    });
    const databaseNames = props.databaseNames ?? ['postgres'];
    const userSpecs: DbUserSpec[] = [];
    const userSecrets: secretsmanager.ISecret[] = [];
    for (const user of props.databaseUsers ?? []) {
      const secret = user.secret ?? new secretsmanager.Secret(this, `UserSecret-${user.username}`, {
        description: `Password of database role ${user.username} in ${props.targetClusterIdentifier}`,
        encryptionKey: this.encryptionKey,
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: user.username }),
          generateStringKey: 'password',
          passwordLength: 32,
          excludeCharacters: '"@/\\\' `',
        },
        removalPolicy,
      });
      userSecrets.push(secret);
      userSpecs.push({
        username: user.username,
        secretArn: secret.secretArn,
        usernameKey: 'username',
        passwordKey: 'password',
        privilege: user.privilege ?? DatabasePrivilege.READ_ONLY,
        databases: user.databases ?? databaseNames,
        schemas: user.schemas ?? ['public'],
        connectionLimit: user.connectionLimit,
      });
    }
    if (props.combinedUsersSecret) {
      userSecrets.push(props.combinedUsersSecret);
      for (const [prefix, privilege] of [['app', DatabasePrivilege.READ_WRITE], ['readonly', DatabasePrivilege.READ_ONLY]] as const) {
        userSpecs.push({
          secretArn: props.combinedUsersSecret.secretArn,
          usernameKey: `${prefix}_username`,
          passwordKey: `${prefix}_password`,
          privilege,
          databases: databaseNames,
          schemas: ['public'],
        });
      }
    }

    // ----- configuration for the handlers -----
    const instanceClass = props.writerInstanceType ? `db.${props.writerInstanceType.toString()}` : 'db.serverless';
    const waitBudget = props.waitBudget ?? TIMING_DEFAULTS.waitBudget;
    const pipelineId = `${Names.uniqueId(this)}`.slice(-200);
    const tags = Object.entries(props.clusterTags ?? {}).map(([key, value]) => ({ key, value }));
    const config: PipelineConfig = {
      pipelineId,
      sourceClusterIdentifier: props.sourceClusterIdentifier,
      sourceRegion,
      targetClusterIdentifier: props.targetClusterIdentifier,
      targetRegion,
      stateTableName: this.stateTable.tableName,
      auditTableName: this.auditTable.tableName,
      topicArn: this.topic.topicArn,
      includeAutomatedSnapshots: props.includeAutomatedSnapshots ?? true,
      snapshotCopyKeyArn: snapshotCopyKey.keyArn,
      tags,
      replaceExistingTarget: props.replaceExistingTarget ?? true,
      assumeTargetOwned: props.assumeTargetOwned ?? false,
      finalSnapshotOnDelete: props.finalSnapshotOnReplace ?? true,
      allowDisableDeletionProtection: props.allowDisableDeletionProtection ?? false,
      retainSnapshotCopy: props.retainSnapshotCopy ?? false,
      restore: {
        subnetGroupName: subnetGroup.subnetGroupName,
        securityGroupIds: this.clusterSecurityGroups.map((sg) => sg.securityGroupId),
        instanceClass,
        instanceIdentifier: writerInstanceIdentifier,
        serverlessV2MinCapacity: props.serverlessV2MinCapacity ?? 0.5,
        serverlessV2MaxCapacity: props.serverlessV2MaxCapacity ?? 4,
        engineVersion: props.engineVersion,
        clusterParameterGroupName: props.clusterParameterGroup?.bindToCluster({}).parameterGroupName,
        deletionProtection: props.deletionProtection ?? false,
        port,
        kmsKeyArn: snapshotCopyKey.keyArn,
        tags,
        masterSecretArn: this.masterSecret.secretArn,
      },
      waits: {
        pollIntervalSeconds: (props.pollInterval ?? TIMING_DEFAULTS.pollInterval).toSeconds(),
        maxPollIntervalSeconds: (props.maxPollInterval ?? TIMING_DEFAULTS.maxPollInterval).toSeconds(),
        backoffRate: props.pollBackoffRate ?? TIMING_DEFAULTS.pollBackoffRate,
        budgetSeconds: waitBudget.toSeconds(),
        ...checksOf(checkShares(configuredWaitLoops(props), waitBudget.toSeconds(),
          (props.maxPollInterval ?? TIMING_DEFAULTS.maxPollInterval).toSeconds())),
      },
      stateTtlSeconds: (props.stateRetention ?? Duration.days(90)).toSeconds(),
      lockTtlSeconds: timeout.toSeconds(),
      finalSnapshotsToKeep: props.finalSnapshotsToKeep ?? 5,
      replaceStrategy: props.replaceStrategy ?? ReplaceStrategy.SWAP,
      previousTargetRetention: props.previousTargetRetention ?? PreviousTargetRetention.DELETE,
      retainFailedRestore: props.retainFailedRestore ?? false,
      ...(crossAccount ? {
        sourceAccount: crossAccount.account,
        sourceRoleArn: crossAccount.roleArn,
        sourceShareKeyArn: crossAccount.shareKeyArn,
        pipelineAccount: stack.account,
      } : {}),
    };

    // ----- handlers -----
    const handlers = new PipelineHandlers(this, 'Handlers', {
      vpc: props.vpc,
      subnets,
      placement: props.handlerPlacement ?? HandlerPlacement.DATABASE_ONLY,
      endpointSecurityGroups: props.endpointSecurityGroups ?? [],
      encryptionKey: this.encryptionKey,
      config: stack.toJsonString(config),
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy,
      reservedConcurrency: props.handlerReservedConcurrency,
    });
    this.dbUsersSecurityGroup = handlers.dbUsersSecurityGroup;
    // Undeliverable e-mails land in the pipeline's dead-letter queue.
    for (const email of props.notificationEmails ?? []) {
      this.topic.addSubscription(new subs.EmailSubscription(email, { deadLetterQueue: handlers.deadLetterQueue }));
    }
    for (const sg of this.clusterSecurityGroups) {
      sg.addIngressRule(handlers.dbUsersSecurityGroup, ec2.Port.tcp(port), 'Aurora restore pipeline: setup-db-users handler');
      handlers.dbUsersSecurityGroup.addEgressRule(sg, ec2.Port.tcp(port), 'PostgreSQL to the restored cluster');
    }

    // Whether runs copy (the source region differs) or restore from the source snapshot: both when unknown.
    const regionsKnown = props.sourceRegion === undefined || (!Token.isUnresolved(sourceRegion) && !Token.isUnresolved(targetRegion));
    grantStepPermissions(this, handlers.functions, {
      pipelineId,
      sourceClusterIdentifier: props.sourceClusterIdentifier,
      targetClusterIdentifier: props.targetClusterIdentifier,
      sourceRegion,
      // Across accounts the pipeline's account copies nothing and reads no source snapshot: the source's role does.
      mayCopy: !crossAccount && (!regionsKnown || sourceRegion !== targetRegion),
      mayRestoreFromSource: !crossAccount && (!regionsKnown || sourceRegion === targetRegion),
      ...(crossAccount ? { sourceAccount: crossAccount } : {}),
      assumeTargetOwned: props.assumeTargetOwned ?? false,
      retainFailedRestore: config.retainFailedRestore,
      clusterParameterGroupName: config.restore.clusterParameterGroupName,
      writerInstanceIdentifier,
      subnetGroupName: subnetGroup.subnetGroupName,
      stateTable: this.stateTable,
      auditTable: this.auditTable,
      topic: this.topic,
      encryptionKey: this.encryptionKey,
      snapshotCopyKey,
      sourceSnapshotKey: props.sourceSnapshotKey,
      masterSecret: this.masterSecret,
      userSecrets,
    });

    // ----- state machine -----
    const flow = new PipelineDefinition(this, 'Flow', {
      functions: handlers.functions,
      dbUsers: userSpecs,
      unmanagedLogins: props.unmanagedLogins ?? UnmanagedLogins.DISABLE,
      validation: validationTaskInput(props, databaseNames, userSpecs),
      previousTargetRetention: config.previousTargetRetention,
    });
    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: this.encryptionKey,
      removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(flow.definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout,
      tracingEnabled: true,
      // Payloads hold identifiers only, never secrets, so full execution data is safe to log.
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(this.encryptionKey),
      comment: `Restores ${props.targetClusterIdentifier} from snapshots of ${props.sourceClusterIdentifier}`,
    });

    // ----- executions that never reach NotifyFailure -----
    // An execution stopped by hand or past the timeout ends without running another state: its status change
    // goes to the notification function, which releases its lock, records it as failed, settles its snapshot
    // copy and notifies. Undeliverable events land in the functions' dead-letter queue.
    grantDescribeOwnExecutions(this, handlers.functions.snsNotification, this.stateMachine.stateMachineArn);
    this.executionStoppedRule = new events.Rule(this, 'ExecutionStoppedRule', {
      description: `Aurora restore pipeline ${props.targetClusterIdentifier}: settles executions that were stopped or timed out`,
      eventPattern: {
        source: [EXECUTION_STATUS_CHANGE.source],
        detailType: [EXECUTION_STATUS_CHANGE.detailType],
        detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: ['ABORTED', 'TIMED_OUT'] },
      },
    });
    this.executionStoppedRule.addTarget(new targets.LambdaFunction(handlers.functions.snsNotification, {
      deadLetterQueue: handlers.deadLetterQueue,
      // EventBridge's maximum: until the event is delivered, the lock blocks the next restore.
      maxEventAge: Duration.hours(24),
      retryAttempts: 185,
    }));

    // ----- alarms -----
    const action = new cwActions.SnsAction(this.topic);
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      return a;
    };
    const period = Duration.minutes(5);
    this.alarms = [
      alarm('ExecutionsFailedAlarm', this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
        `A restore of ${props.targetClusterIdentifier} failed. The failure notification names the error; the audit table has the steps.`),
      alarm('ExecutionsTimedOutAlarm', this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
        `A restore of ${props.targetClusterIdentifier} ran past the pipeline's timeout. The pipeline releases its lock, records it as ExecutionTimedOut and notifies; check the RDS console for what it left.`),
      alarm('ExecutionsAbortedAlarm', this.stateMachine.metricAborted({ period, statistic: 'Sum' }),
        `A restore of ${props.targetClusterIdentifier} was stopped by hand. The pipeline releases its lock, records it as ExecutionAborted and notifies; check the RDS console for what it left.`),
      alarm('ExecutionsThrottledAlarm', this.stateMachine.metricThrottled({ period, statistic: 'Sum' }),
        'Step Functions throttled the pipeline\'s state transitions.'),
      // An alarm's math expression takes at most 10 metrics: one alarm per 10 functions (HandlerErrorsAlarm, …Alarm2).
      ...chunks(Object.values(handlers.functions), MAX_ALARM_METRICS).map((fns, n) => alarm(`HandlerErrorsAlarm${n === 0 ? '' : n + 1}`, new cloudwatch.MathExpression({
        expression: fns.map((_, i) => `e${i}`).join(' + '),
        usingMetrics: Object.fromEntries(fns.map((fn, i) => [`e${i}`, fn.metricErrors({ period, statistic: 'Sum' })])),
        period,
        label: 'Errors of the pipeline\'s functions',
      }), 'A pipeline function raised an error (each error is also routed to the failure notification).')),
    ];

    // ----- operations -----
    if (props.schedule) {
      this.schedule = new PipelineSchedule(this, 'Schedule', {
        schedule: props.schedule,
        stateMachine: this.stateMachine,
        encryptionKey: this.encryptionKey,
        removalPolicy,
        description: `Aurora restore pipeline: restores ${props.targetClusterIdentifier} from ${props.sourceClusterIdentifier}`,
      });
    }
    if (props.dashboard ?? true) {
      this.dashboard = new PipelineDashboard(this, 'Dashboard', {
        stateMachine: this.stateMachine,
        functions: Object.values(handlers.functions),
        alarms: this.alarms,
        targetClusterIdentifier: props.targetClusterIdentifier,
      }).dashboard;
    }

    if (props.backupPlan) {
      const selection = new backup.BackupSelection(this, 'BackupSelection', {
        backupPlan: props.backupPlan,
        resources: [backup.BackupResource.fromDynamoDbTable(this.stateTable), backup.BackupResource.fromDynamoDbTable(this.auditTable)],
      });
      acknowledge(selection, {
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]':
          'AWS Backup\'s service role needs the AWS-maintained backup policy to back up the DynamoDB tables.',
      });
    }
    acknowledgeFindings(this, handlers, props, props.backupPlan !== undefined);
  }

  /** Allows `grantee` to start a restore. */
  public grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /** Allows `grantee` to read the state and audit tables. */
  public grantReadOperations(grantee: iam.IGrantable): iam.Grant {
    this.auditTable.grantReadData(grantee);
    return this.stateTable.grantReadData(grantee);
  }

  /** Executions that succeeded. */
  public metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricSucceeded(props);
  }

  /** Executions that failed. */
  public metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed(props);
  }

  /** Execution time of the restores. */
  public metricTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricTime(props);
  }

  /** Executions that timed out. */
  public metricTimedOut(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricTimedOut(props);
  }

  /**
   * Restore time of each successful run (its RTO), in seconds: from the execution's start to the target ready with
   * its users. Maximum over a day by default.
   *
   * @example
   * new cloudwatch.Alarm(this, 'SlowRestore', {
   *   metric: pipeline.metricRestoreTime(),
   *   threshold: Duration.hours(4).toSeconds(),
   *   evaluationPeriods: 1,
   * });
   */
  public metricRestoreTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return runMetric(this.targetClusterIdentifier, RUN_METRICS.restoreTime, props);
  }

  /**
   * Age of the restored snapshot when the target became ready (the run's RPO), in seconds. Maximum over a day by
   * default. Alarm on it, with missing data breaching, to learn that the nightly refresh did not happen.
   */
  public metricSnapshotAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return runMetric(this.targetClusterIdentifier, RUN_METRICS.snapshotAge, props);
  }

  /**
   * How long the target was unusable during a run that replaced it, in seconds: from the start of the previous
   * target's delete to the new target ready with its users. Runs that replaced nothing emit no datapoint.
   */
  public metricTargetUnavailableTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return runMetric(this.targetClusterIdentifier, RUN_METRICS.targetUnavailableTime, props);
  }

  /** Duration of one phase of each successful run that went through it, in seconds. */
  public metricPhaseTime(phase: RunPhase, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return runMetric(this.targetClusterIdentifier, RUN_METRICS.phases[phase], props);
  }

  /** Duration of the cross-region snapshot copy, in seconds (runs that copied). */
  public metricCopyTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricPhaseTime(RunPhase.COPY, props);
  }

  /** Duration of the previous target's delete, in seconds (runs that replaced a target). */
  public metricDeleteTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricPhaseTime(RunPhase.DELETE, props);
  }

  /** Duration of the restore of the cluster and its writer, in seconds. */
  public metricRestorePhaseTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricPhaseTime(RunPhase.RESTORE, props);
  }

  /** Duration of the database users' setup, in seconds. */
  public metricUsersTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricPhaseTime(RunPhase.USERS, props);
  }

  /** Duration of the restored cluster's validation (ValidateRestore), in seconds. */
  public metricValidationTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricPhaseTime(RunPhase.VALIDATION, props);
  }

  /** Duration of a swap's cutover (Cutover: the two renames), in seconds. */
  public metricCutoverTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricPhaseTime(RunPhase.CUTOVER, props);
  }
}

/**
 * CloudWatch Logs (the log groups) and CloudWatch alarms (publishing to the encrypted topic) use the key.
 * An imported key's policy cannot be changed here: then the user is told what to add.
 */
function allowServicesOnKey(scope: Construct, key: kms.IKey) {
  const stack = Stack.of(scope);
  const logsAdded = key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) } },
  }));
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
  }));
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
  }));
  // EventBridge sends undeliverable stopped-execution events to the encrypted dead-letter queue. (Naming the
  // rule's ARN here would make the key depend on the state machine it encrypts.)
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('events.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
  }));
  if (!logsAdded.statementAdded) {
    Annotations.of(scope).addWarningV2('cdk-aurora-restore-pipeline:importedKeyPolicy',
      'encryptionKey is imported, so its key policy cannot be extended here. Allow logs.<region>.amazonaws.com (kms:Encrypt*, kms:Decrypt*, kms:GenerateDataKey*, kms:DescribeKey for log groups of this account) and cloudwatch.amazonaws.com, sns.amazonaws.com and events.amazonaws.com (kms:Decrypt, kms:GenerateDataKey) in it, or the log groups, alarm notifications and dead-letter deliveries fail.');
  }
}

/** The cdk-nag findings the construct cannot satisfy, each with its reason. */
function acknowledgeFindings(scope: AuroraRestorePipeline, handlers: PipelineHandlers, props: AuroraRestorePipelineProps, backedUp: boolean) {
  const inline = 'The inline policy holds the least-privilege grants of this one role, scoped to ARNs; it is never shared with another principal.';
  acknowledge(scope.stateMachine.role, {
    'AwsSolutions-IAM5[Resource::*]': 'X-Ray tracing of the state machine: xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSamplingRules and xray:GetSamplingTargets support no resource-level permissions.',
    'NIST.800.53.R5-IAMNoInlinePolicy': inline,
    'HIPAA.Security-IAMNoInlinePolicy': inline,
    'PCI.DSS.321-IAMNoInlinePolicy': inline,
  });
  for (const fn of Object.values(handlers.functions)) {
    acknowledgeWildcardResource(scope.stateMachine.role, `${fn.functionArn}:*`,
      'The state machine invokes versions and aliases of the pipeline\'s own functions only.');
    acknowledge(fn.role!, {
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]': 'Lambda sends failed asynchronous events to the KMS-encrypted dead-letter queue; the SQS grant covers the key\'s data-key actions on that one key.',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]': 'Lambda sends failed asynchronous events to the KMS-encrypted dead-letter queue (and the notification function publishes to the encrypted topic); the grant is on the pipeline\'s key only.',
    });
  }
  const rotation = 'The pipeline resets the restored cluster\'s passwords from this secret after every restore; a Secrets Manager rotation would change the secret without changing the database. Change the secret and the next restore applies it.';
  const secrets = scope.node.findAll().filter((c): c is secretsmanager.Secret => c instanceof secretsmanager.Secret);
  for (const secret of secrets) {
    acknowledge(secret, {
      'AwsSolutions-SMG4': rotation,
      'NIST.800.53.R5-SecretsManagerRotationEnabled': rotation,
      'HIPAA.Security-SecretsManagerRotationEnabled': rotation,
    });
  }
  if (!backedUp) {
    const pitr = 'Point-in-time recovery is on (35 days of continuous backups). Pass backupPlan to add the tables to an AWS Backup plan.';
    for (const table of [scope.stateTable, scope.auditTable]) {
      acknowledge(table, { 'NIST.800.53.R5-DynamoDBInBackupPlan': pitr, 'HIPAA.Security-DynamoDBInBackupPlan': pitr });
    }
  }
  void props;
}

/**
 * What ValidateRestore checks: every configured database (`databaseNames` and the users' databases) must exist, and
 * the queries run in their database (default: the first of `databaseNames`).
 */
function validationTaskInput(props: AuroraRestorePipelineProps, databaseNames: string[], users: DbUserSpec[]) {
  const databases: string[] = [];
  for (const db of [...databaseNames, ...users.flatMap((u) => u.databases)]) if (!databases.includes(db)) databases.push(db);
  return {
    databases,
    queries: (props.validationQueries ?? []).map((q) => ({ name: q.name, database: q.database ?? databaseNames[0], sql: q.sql })),
    statementTimeoutSeconds: (props.validationStatementTimeout ?? Duration.seconds(30)).toSeconds({ integral: false }),
  };
}

/** The most metrics CloudWatch takes in one alarm's math expression. */
const MAX_ALARM_METRICS = 10;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The wait settings' check limits from the flow's shares. */
function checksOf(shares: CheckShares): { maxChecksPerLoop: number; maxChecksPerSwapStep?: number } {
  return { maxChecksPerLoop: shares.checksPerLoop, ...(shares.swapStepLoops > 0 ? { maxChecksPerSwapStep: shares.checksPerSwapStep } : {}) };
}
