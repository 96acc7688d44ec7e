import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { RUN_METRICS, RunPhase } from './run-metrics';

/**
 * A figure of the pipeline's runs (`AuroraRestorePipeline` namespace, one datapoint per successful run, in seconds).
 * Maximum over a day by default: one run a night is one datapoint.
 */
export function runMetric(targetClusterIdentifier: string, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: RUN_METRICS.namespace,
    metricName,
    dimensionsMap: { [RUN_METRICS.dimension]: targetClusterIdentifier },
    statistic: 'Maximum',
    period: Duration.days(1),
    unit: cloudwatch.Unit.SECONDS,
    ...props,
  });
}

/** Properties of {@link PipelineDashboard}. */
export interface PipelineDashboardProps {
  /** The pipeline's state machine. */
  readonly stateMachine: sfn.IStateMachine;
  /** The pipeline's functions. */
  readonly functions: lambda.IFunction[];
  /** The pipeline's alarms. */
  readonly alarms: cloudwatch.IAlarm[];
  /** The target cluster: the dimension of the run figures and the dashboard's title. */
  readonly targetClusterIdentifier: string;
}

/**
 * The pipeline's CloudWatch dashboard: runs by outcome, restore time (RTO) and snapshot age (RPO) over time, phase
 * durations, the functions' errors and throttles, and the alarms' states.
 */
export class PipelineDashboard extends Construct {
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const sm = props.stateMachine;
    const hour = Duration.hours(1);
    const sum = { period: hour, statistic: 'Sum' };
    const fig = (name: string, label: string) => runMetric(props.targetClusterIdentifier, name, { period: hour, label });
    const phaseLabels: Record<RunPhase, string> = {
      [RunPhase.COPY]: 'Snapshot copy',
      [RunPhase.DELETE]: 'Delete of the previous target',
      [RunPhase.RESTORE]: 'Restore (cluster and writer)',
      [RunPhase.USERS]: 'Database users',
      [RunPhase.VALIDATION]: 'Validation',
      [RunPhase.CUTOVER]: 'Cutover (swap)',
    };
    // Ids unique within the graph: both expressions share it.
    const fnMetric = (kind: 'Errors' | 'Throttles') => new cloudwatch.MathExpression({
      expression: props.functions.map((_, i) => `${kind[0].toLowerCase()}${i}`).join(' + '),
      usingMetrics: Object.fromEntries(props.functions.map((fn, i) => [
        `${kind[0].toLowerCase()}${i}`, kind === 'Errors' ? fn.metricErrors(sum) : fn.metricThrottles(sum),
      ])),
      period: hour,
      label: `${kind} of the pipeline's functions`,
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(30),
      widgets: [
        [
          new cloudwatch.TextWidget({
            markdown: `## Aurora restore pipeline: ${props.targetClusterIdentifier}\nFigures of successful runs, in seconds: `
              + 'restore time from the start to the target ready with its users (RTO), snapshot age when ready (RPO).',
            width: 24,
            height: 2,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Runs',
            width: 12,
            left: [
              sm.metricStarted({ ...sum, label: 'Started' }),
              sm.metricSucceeded({ ...sum, label: 'Succeeded' }),
              sm.metricFailed({ ...sum, label: 'Failed' }),
              sm.metricAborted({ ...sum, label: 'Aborted' }),
              sm.metricTimedOut({ ...sum, label: 'Timed out' }),
            ],
          }),
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 12, alarms: props.alarms }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Restore time and snapshot age (seconds)',
            width: 12,
            left: [fig(RUN_METRICS.restoreTime, 'Restore time (RTO)'), fig(RUN_METRICS.targetUnavailableTime, 'Target unavailable')],
            right: [fig(RUN_METRICS.snapshotAge, 'Snapshot age when ready (RPO)')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Phase durations (seconds)',
            width: 12,
            stacked: true,
            left: Object.values(RunPhase).map((phase) => fig(RUN_METRICS.phases[phase], phaseLabels[phase])),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function errors and throttles',
            width: 12,
            left: [fnMetric('Errors'), fnMetric('Throttles')],
          }),
          new cloudwatch.GraphWidget({
            title: 'State machine throttles',
            width: 12,
            left: [sm.metricThrottled({ ...sum, label: 'Throttled state transitions' })],
          }),
        ],
      ],
    });
  }
}
