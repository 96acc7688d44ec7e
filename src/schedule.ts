import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

/** What a scheduled run says in its execution input (`requestedBy`), recorded in the state item and the audit trail. */
export const SCHEDULED_REQUESTED_BY = 'schedule';

/** Properties of {@link PipelineSchedule}. */
export interface PipelineScheduleProps {
  /** When to start a restore; the time zone is part of the expression. */
  readonly schedule: scheduler.ScheduleExpression;
  /** The state machine each occurrence starts. */
  readonly stateMachine: sfn.IStateMachine;
  /** The key that encrypts the dead-letter queue (the pipeline's key). */
  readonly encryptionKey: kms.IKey;
  /** Removal policy of the dead-letter queue. */
  readonly removalPolicy: RemovalPolicy;
  /** The schedule's description. */
  readonly description: string;
}

/**
 * An EventBridge Scheduler schedule that starts the pipeline with `{"requestedBy": "schedule"}`: no flexible time
 * window, a retry policy, a dead-letter queue for starts that still fail, and a role of its own that may start this
 * state machine and write to that queue, nothing else (a customer-managed policy, not an inline one).
 */
export class PipelineSchedule extends Construct {
  /** The schedule. */
  public readonly schedule: scheduler.Schedule;
  /** The role EventBridge Scheduler assumes to start the state machine. */
  public readonly role: iam.Role;
  /** Occurrences whose start failed after every retry (say, throttled, or the state machine was deleted). */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PipelineScheduleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    acknowledge(this.deadLetterQueue, {
      'AwsSolutions-SQS3': 'This queue is itself the dead-letter queue of the schedule: it receives the starts that failed.',
      'Serverless-SQSRedrivePolicy': 'This queue is itself the dead-letter queue of the schedule; a queue behind it would hold the same messages.',
    });

    this.role = new iam.Role(this, 'Role', {
      description: `Lets EventBridge Scheduler start ${props.stateMachine.stateMachineArn} and report failed starts`,
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });
    // Customer-managed, so that no pack reports an inline policy; it is attached to this role only.
    new iam.ManagedPolicy(this, 'Policy', {
      description: 'Starts the Aurora restore pipeline\'s state machine; sends failed starts to the encrypted dead-letter queue',
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [props.stateMachine.stateMachineArn] }),
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }),
        // Sending to a KMS-encrypted queue: the data key of the message, with the pipeline's key only.
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [props.encryptionKey.keyArn] }),
      ],
    });

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: props.schedule,
      description: props.description,
      timeWindow: scheduler.TimeWindow.off(),
      target: new StartPipelineTarget(props.stateMachine, this.role, this.deadLetterQueue),
    });
  }
}

/**
 * The schedule's target. Not aws-scheduler-targets' StepFunctionsStartExecution: that one grants through the role's
 * inline default policy, which three of the cdk-nag packs report.
 */
class StartPipelineTarget implements scheduler.IScheduleTarget {
  constructor(private readonly stateMachine: sfn.IStateMachine, private readonly role: iam.IRole, private readonly queue: sqs.IQueue) {}

  public bind(_schedule: scheduler.ISchedule): scheduler.ScheduleTargetConfig {
    return {
      arn: this.stateMachine.stateMachineArn,
      role: this.role,
      input: scheduler.ScheduleTargetInput.fromObject({ requestedBy: SCHEDULED_REQUESTED_BY }),
      // A start that fails (throttled, or the service unavailable) is tried again for an hour, then dead-lettered.
      retryPolicy: { maximumEventAgeInSeconds: Duration.hours(1).toSeconds(), maximumRetryAttempts: 10 },
      deadLetterConfig: { arn: this.queue.queueArn },
    };
  }
}
