import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { defaultStack, fullStack } from './stacks';
import { RunPhase } from '../../src';

const nightly = scheduler.ScheduleExpression.cron({ minute: '0', hour: '2', timeZone: TimeZone.EUROPE_LONDON });
const logicalIdOf = (stack: Stack, c: { node: { defaultChild?: unknown } } | unknown) => stack.getLogicalId((c as any).node.defaultChild ?? c);

describe('schedule', () => {
  const { stack, pipeline } = defaultStack({ schedule: nightly });
  const t = Template.fromStack(stack);
  const smRef = { Ref: logicalIdOf(stack, pipeline.stateMachine) };
  const queueArn = { 'Fn::GetAtt': [logicalIdOf(stack, pipeline.schedule!.deadLetterQueue), 'Arn'] };
  const roleArn = { 'Fn::GetAtt': [logicalIdOf(stack, pipeline.schedule!.role), 'Arn'] };

  test('starts the state machine with {"requestedBy": "schedule"} in the expression\'s time zone, no flexible window, retries, then the DLQ', () => {
    t.resourceCountIs('AWS::Scheduler::Schedule', 1);
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/London',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: smRef,
        RoleArn: roleArn,
        Input: '{"requestedBy":"schedule"}',
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
        DeadLetterConfig: { Arn: queueArn },
      },
    });
  });

  test('its role: assumed by EventBridge Scheduler of this account only, no inline policy, one customer-managed policy', () => {
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
        }],
      },
    });
    const role = t.findResources('AWS::IAM::Role')[logicalIdOf(stack, pipeline.schedule!.role)];
    expect(role.Properties.Policies).toBeUndefined();
    const policies = Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p: any) => JSON.stringify(p.Properties.Roles).includes(logicalIdOf(stack, pipeline.schedule!.role)));
    expect(policies).toEqual([]);
    const managed = Object.values(t.findResources('AWS::IAM::ManagedPolicy'))
      .filter((p: any) => JSON.stringify(p.Properties.Roles).includes(logicalIdOf(stack, pipeline.schedule!.role)));
    expect(managed).toHaveLength(1);
    expect((managed[0] as any).Properties.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: smRef },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: { 'Fn::GetAtt': [logicalIdOf(stack, pipeline.encryptionKey), 'Arn'] } },
    ]);
  });

  test('its dead-letter queue: encrypted with the pipeline\'s key, TLS only, 14 days, retained by default', () => {
    const id = logicalIdOf(stack, pipeline.schedule!.deadLetterQueue);
    t.hasResource('AWS::SQS::Queue', {
      Properties: { KmsMasterKeyId: { 'Fn::GetAtt': [logicalIdOf(stack, pipeline.encryptionKey), 'Arn'] }, MessageRetentionPeriod: 14 * 86400 },
      DeletionPolicy: 'Retain',
    });
    expect(t.findResources('AWS::SQS::Queue')[id]).toBeDefined();
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id }],
      PolicyDocument: {
        Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
      },
    });
  });

  test('no schedule unless asked', () => {
    const plain = defaultStack();
    expect(plain.pipeline.schedule).toBeUndefined();
    Template.fromStack(plain.stack).resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});

describe('dashboard', () => {
  const { stack, pipeline } = defaultStack();
  const t = Template.fromStack(stack);
  const body = JSON.stringify(stack.resolve(t.findResources('AWS::CloudWatch::Dashboard')[logicalIdOf(stack, pipeline.dashboard!)].Properties.DashboardBody));

  test('created by default: runs by outcome, RTO/RPO, phases, errors and throttles, every alarm', () => {
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const metric of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsAborted', 'ExecutionsTimedOut', 'ExecutionThrottled']) {
      expect(body).toContain(metric);
    }
    for (const metric of ['RestoreTime', 'SnapshotAge', 'TargetUnavailableTime', 'CopyTime', 'DeleteTime', 'RestorePhaseTime', 'UsersTime', 'ValidationTime', 'CutoverTime']) {
      expect(body).toContain(`\\"AuroraRestorePipeline\\",\\"${metric}\\",\\"TargetCluster\\",\\"staging-aurora\\"`);
    }
    expect(body).toContain('Errors');
    expect(body).toContain('Throttles');
    expect(pipeline.alarms).toHaveLength(6);
    for (const alarm of pipeline.alarms) expect(body).toContain(logicalIdOf(stack, alarm));
  });

  test('the alarms keep their construct IDs (their logical IDs are a public contract)', () => {
    expect(pipeline.alarms.map((a) => a.node.path)).toEqual(
      ['ExecutionsFailedAlarm', 'ExecutionsTimedOutAlarm', 'ExecutionsAbortedAlarm', 'ExecutionsThrottledAlarm', 'HandlerErrorsAlarm', 'HandlerErrorsAlarm2'].map((id) => `Default/Restore/${id}`));
  });

  test('dashboard: false creates none', () => {
    const off = defaultStack({ dashboard: false });
    expect(off.pipeline.dashboard).toBeUndefined();
    Template.fromStack(off.stack).resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  test('the fully configured stack has both', () => {
    const full = fullStack();
    const ft = Template.fromStack(full.stack);
    ft.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    ft.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(30 1 ? * MON-FRI *)', ScheduleExpressionTimezone: 'Europe/Berlin' });
  });
});

describe('run figures as metrics', () => {
  const { stack, pipeline } = defaultStack();
  const expectMetric = (m: cloudwatch.Metric, name: string) => {
    expect(m.namespace).toBe('AuroraRestorePipeline');
    expect(m.metricName).toBe(name);
    expect(m.dimensions).toEqual({ TargetCluster: 'staging-aurora' });
    expect(m.statistic).toBe('Maximum');
    expect(m.period.toSeconds()).toBe(86400);
  };

  test('one method per figure and per phase, in the namespace and dimension the handler emits', () => {
    expectMetric(pipeline.metricRestoreTime(), 'RestoreTime');
    expectMetric(pipeline.metricSnapshotAge(), 'SnapshotAge');
    expectMetric(pipeline.metricTargetUnavailableTime(), 'TargetUnavailableTime');
    expectMetric(pipeline.metricCopyTime(), 'CopyTime');
    expectMetric(pipeline.metricDeleteTime(), 'DeleteTime');
    expectMetric(pipeline.metricRestorePhaseTime(), 'RestorePhaseTime');
    expectMetric(pipeline.metricUsersTime(), 'UsersTime');
    expectMetric(pipeline.metricValidationTime(), 'ValidationTime');
    expectMetric(pipeline.metricCutoverTime(), 'CutoverTime');
    expectMetric(pipeline.metricPhaseTime(RunPhase.COPY), 'CopyTime');
    expect(pipeline.metricRestoreTime({ period: Duration.hours(1), statistic: 'Average' }).statistic).toBe('Average');
  });

  test('an alarm on the snapshot age (the README\'s example): over a day, or no run at all', () => {
    new cloudwatch.Alarm(stack, 'StaleStaging', {
      metric: pipeline.metricSnapshotAge(),
      threshold: Duration.days(1).toSeconds(),
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AuroraRestorePipeline',
      MetricName: 'SnapshotAge',
      Dimensions: [{ Name: 'TargetCluster', Value: 'staging-aurora' }],
      Statistic: 'Maximum',
      Period: 86400,
      Threshold: 86400,
      TreatMissingData: 'breaching',
    });
  });
});
