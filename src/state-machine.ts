import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  DbUserSpec, DeleteSubject, DRY_RUN_STATUS, PipelineErrorName, PreviousTargetRetention, STEP_NAMES, THROTTLING_ERROR_NAMES, TRANSIENT_ERROR_NAMES,
  UnmanagedLogins, ValidationQuerySpec,
} from './contracts';
import type { StepKey } from './handlers';

/** Inputs of {@link PipelineDefinition}. */
export interface PipelineDefinitionProps {
  readonly functions: Record<StepKey, lambda.IFunction>;
  /** The users SetupDbUsers reconciles: part of its task input, not of the function's 4 KB environment. */
  readonly dbUsers: DbUserSpec[];
  /** What SetupDbUsers does with the other login roles (task input too). */
  readonly unmanagedLogins: UnmanagedLogins;
  /** What ValidateRestore checks (task input too): the databases that must exist, the queries, their timeout. */
  readonly validation: {
    readonly databases: string[];
    readonly queries: ValidationQuerySpec[];
    readonly statementTimeoutSeconds: number;
  };
  /** After a swap's cutover: retire the previous target (DELETE), or keep it (KEEP: no retire states). */
  readonly previousTargetRetention: PreviousTargetRetention;
}

/** State names of the Wait and Choice states (construct IDs and state names: a public contract). */
export const FLOW_STATE_NAMES = {
  copyNeeded: 'CopyNeeded?',
  waitForCopy: 'WaitForCopy',
  copyDone: 'CopyDone?',
  replaceNeeded: 'ReplaceTarget?',
  waitForDelete: 'WaitForDelete',
  deleteDone: 'DeleteDone?',
  waitForRestore: 'WaitForRestore',
  restoreDone: 'RestoreDone?',
  swapNeeded: 'Swap?',
  waitForKeptPrevious: 'WaitForKeptPreviousTarget',
  keptPreviousDone: 'KeptPreviousTargetDeleted?',
  waitForCutover: 'WaitForCutover',
  cutoverDone: 'CutoverDone?',
  waitForRetire: 'WaitForRetire',
  retireDone: 'RetireDone?',
  notifySuccess: 'NotifySuccess',
  notifyFailure: 'NotifyFailure',
  succeeded: 'Succeeded',
  failed: 'Failed',
  /** SnapshotCheck's catch: the state becomes `{ error }`, whatever the execution input was (not an object, too large). */
  snapshotCheckFailed: 'SnapshotCheckFailed',
  /** After SnapshotCheck: a dry run (`{"dryRun": true}`) goes to NotifyDryRun, a restore on. */
  dryRunChoice: 'DryRun?',
  /** Publishes a dry run's checklist. */
  notifyDryRun: 'NotifyDryRun',
  /** After NotifyDryRun: Succeeded when every preflight check passed. */
  dryRunPassed: 'DryRunPassed?',
  /** A dry run with a failed preflight check ends here, with PreflightFailed and the failed checks as the cause. */
  dryRunFailed: 'DryRunFailed',
};

/** The errors of a function that ran past its time limit (Lambda's own, and the task's `TimeoutSeconds`). */
export const TIMEOUT_ERROR_NAMES = ['Sandbox.Timedout', 'States.Timeout'];
/** How often a timed-out step is tried again before the execution fails with StepTimedOut. */
export const TIMEOUT_RETRIES = 2;

/** Name of the Pass state that turns a step's timeouts into StepTimedOut, naming the step: `<Step>TimedOut`. */
export function timedOutStateName(step: string): string {
  return `${step}TimedOut`;
}

/**
 * The ASL flow: SnapshotCheck (preflight) → [dry run: notify the checklist, end] → [copy ⟲] → [delete ⟲ (DELETE_FIRST)]
 * → restore ⟲ → users → validation → [swap: delete a kept previous target ⟲ → cutover ⟲ → retire the previous target ⟲]
 * → archive → notify.
 * Every task catches every error into `$.error` and goes to NotifyFailure, which ends in a Fail state
 * that carries the original error name and cause.
 */
export class PipelineDefinition extends Construct {
  /** The start state of the flow. */
  public readonly definition: sfn.IChainable;

  constructor(scope: Construct, id: string, props: PipelineDefinitionProps) {
    super(scope, id);
    const fns = props.functions;

    const failed = new sfn.Fail(this, FLOW_STATE_NAMES.failed, {
      stateName: FLOW_STATE_NAMES.failed,
      errorPath: sfn.JsonPath.stringAt('$.error.Error'),
      causePath: sfn.JsonPath.stringAt('$.error.Cause'),
    });
    const notifyFailure = this.invoke(FLOW_STATE_NAMES.notifyFailure, fns.snsNotification, {
      payload: sfn.TaskInput.fromObject(notificationPayload('FAILED')),
      resultPath: sfn.JsonPath.DISCARD,
    });
    // A failing failure notification must not hide the original error: go to Failed regardless.
    notifyFailure.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.notificationError' });
    notifyFailure.next(failed);

    // No payload: the task passes the whole state. (`TaskInput.fromJsonPathAt('$')` would render
    // `"Parameters": "$"` with payloadResponseOnly, and the handler would receive the string "$".)
    // Every task but NotifyFailure: a function that keeps timing out ends as StepTimedOut naming the step, anything
    // else as it was raised; both through NotifyFailure.
    const catchAll = (t: tasks.LambdaInvoke, step: string) => {
      t.addCatch(this.timedOut(step, false).next(notifyFailure), { errors: TIMEOUT_ERROR_NAMES, resultPath: '$.error' });
      t.addCatch(notifyFailure, { errors: ['States.ALL'], resultPath: '$.error' });
      return t;
    };
    const task = (name: string, fn: lambda.IFunction, resultPath: string) => catchAll(this.invoke(name, fn, { resultPath }), name);

    const snapshotCheck = this.invoke(STEP_NAMES.snapshotCheck, fns.snapshotCheck, {
      payload: sfn.TaskInput.fromObject({
        'input.$': '$$.Execution.Input',
        'executionArn.$': '$$.Execution.Id',
        'executionName.$': '$$.Execution.Name',
        'executionStartTime.$': '$$.Execution.StartTime',
        // The preflight checks the users' secrets (ARNs and key names only).
        'users': props.dbUsers,
      }),
      resultPath: '$',
    });
    // The state is still the raw execution input here: it may be no object (where `$.error` cannot be set) or close to
    // the 256 KB limit. The error replaces it, so NotifyFailure always runs and reports InvalidInput.
    const snapshotCheckFailed = new sfn.Pass(this, FLOW_STATE_NAMES.snapshotCheckFailed, {
      stateName: FLOW_STATE_NAMES.snapshotCheckFailed,
      parameters: { 'error.$': '$' },
    });
    snapshotCheck.addCatch(this.timedOut(STEP_NAMES.snapshotCheck, true).next(notifyFailure), { errors: TIMEOUT_ERROR_NAMES, resultPath: '$' });
    snapshotCheck.addCatch(snapshotCheckFailed.next(notifyFailure), { errors: ['States.ALL'], resultPath: '$' });

    // Copy loop.
    const copySnapshot = task(STEP_NAMES.copySnapshot, fns.copySnapshot, '$.copy');
    const waitForCopy = new sfn.Wait(this, FLOW_STATE_NAMES.waitForCopy, {
      stateName: FLOW_STATE_NAMES.waitForCopy,
      time: sfn.WaitTime.secondsPath('$.copy.nextWaitSeconds'),
    });
    const checkCopy = task(STEP_NAMES.checkCopyStatus, fns.checkCopyStatus, '$.copy');

    // Delete loop: delete-rds is its own status check.
    const deleteRds = task(STEP_NAMES.deleteRds, fns.deleteRds, '$.delete');
    const waitForDelete = new sfn.Wait(this, FLOW_STATE_NAMES.waitForDelete, {
      stateName: FLOW_STATE_NAMES.waitForDelete,
      time: sfn.WaitTime.secondsPath('$.delete.nextWaitSeconds'),
    });

    // Restore loop.
    const restore = task(STEP_NAMES.restoreSnapshot, fns.restoreSnapshot, '$.restore');
    const waitForRestore = new sfn.Wait(this, FLOW_STATE_NAMES.waitForRestore, {
      stateName: FLOW_STATE_NAMES.waitForRestore,
      time: sfn.WaitTime.secondsPath('$.restore.nextWaitSeconds'),
    });
    const checkRestore = task(STEP_NAMES.checkRestoreStatus, fns.checkRestoreStatus, '$.restore');

    const setupUsers = this.invoke(STEP_NAMES.setupDbUsers, fns.setupDbUsers, {
      payload: sfn.TaskInput.fromObject({ 'state.$': '$', 'users': props.dbUsers, 'unmanagedLogins': props.unmanagedLogins }),
      resultPath: '$.dbUsers',
    });
    catchAll(setupUsers, STEP_NAMES.setupDbUsers);
    // The cluster to validate is the one $.restore names, whatever its identifier.
    const validate = this.invoke(STEP_NAMES.validateRestore, fns.validateRestore, {
      payload: sfn.TaskInput.fromObject({
        'state.$': '$',
        'databases': props.validation.databases,
        'queries': props.validation.queries,
        'statementTimeoutSeconds': props.validation.statementTimeoutSeconds,
      }),
      resultPath: '$.validation',
    });
    catchAll(validate, STEP_NAMES.validateRestore);
    const archive = task(STEP_NAMES.archiveSnapshot, fns.archiveSnapshot, '$.archive');

    // Swap: a previous target an earlier swap kept goes first, then the cutover, then (DELETE) the one just renamed away.
    const deletePrevious = (name: string, subject: DeleteSubject, resultPath: string, waitName: string, doneName: string, then: sfn.IChainable) => {
      const t = catchAll(this.invoke(name, fns.deleteRds, { payload: sfn.TaskInput.fromObject({ 'state.$': '$', subject }), resultPath }), name);
      const wait = new sfn.Wait(this, waitName, { stateName: waitName, time: sfn.WaitTime.secondsPath(`${resultPath}.nextWaitSeconds`) });
      return t.next(new sfn.Choice(this, doneName, { stateName: doneName })
        .when(sfn.Condition.booleanEquals(`${resultPath}.done`, true), then)
        .otherwise(wait.next(t)));
    };
    const afterCutover = props.previousTargetRetention === PreviousTargetRetention.KEEP
      ? archive
      : deletePrevious(STEP_NAMES.retirePrevious, DeleteSubject.PREVIOUS, '$.retire', FLOW_STATE_NAMES.waitForRetire, FLOW_STATE_NAMES.retireDone, archive);
    const cutover = task(STEP_NAMES.cutover, fns.cutover, '$.cutover');
    const waitForCutover = new sfn.Wait(this, FLOW_STATE_NAMES.waitForCutover, {
      stateName: FLOW_STATE_NAMES.waitForCutover,
      time: sfn.WaitTime.secondsPath('$.cutover.nextWaitSeconds'),
    });
    const cutoverChain = cutover.next(new sfn.Choice(this, FLOW_STATE_NAMES.cutoverDone, { stateName: FLOW_STATE_NAMES.cutoverDone })
      .when(sfn.Condition.booleanEquals('$.cutover.done', true), afterCutover)
      .otherwise(waitForCutover.next(cutover)));
    const swapChoice = new sfn.Choice(this, FLOW_STATE_NAMES.swapNeeded, { stateName: FLOW_STATE_NAMES.swapNeeded })
      .when(sfn.Condition.booleanEquals('$.swap', true),
        deletePrevious(STEP_NAMES.deleteKeptPrevious, DeleteSubject.KEPT_PREVIOUS, '$.keptPrevious',
          FLOW_STATE_NAMES.waitForKeptPrevious, FLOW_STATE_NAMES.keptPreviousDone, cutoverChain))
      .otherwise(archive);
    const notifySuccess = this.invoke(FLOW_STATE_NAMES.notifySuccess, fns.snsNotification, {
      payload: sfn.TaskInput.fromObject(notificationPayload('SUCCEEDED')),
      resultPath: sfn.JsonPath.DISCARD,
    });
    catchAll(notifySuccess, FLOW_STATE_NAMES.notifySuccess);
    const succeeded = new sfn.Succeed(this, FLOW_STATE_NAMES.succeeded, { stateName: FLOW_STATE_NAMES.succeeded });

    const restoreChain = restore.next(waitForRestore).next(checkRestore).next(
      new sfn.Choice(this, FLOW_STATE_NAMES.restoreDone, { stateName: FLOW_STATE_NAMES.restoreDone })
        .when(sfn.Condition.booleanEquals('$.restore.done', true),
          setupUsers.next(validate).next(swapChoice))
        .otherwise(waitForRestore),
    );

    archive.next(notifySuccess).next(succeeded);

    // DELETE_FIRST deletes the target before the restore; a swap restores beside it.
    const replaceChoice = new sfn.Choice(this, FLOW_STATE_NAMES.replaceNeeded, { stateName: FLOW_STATE_NAMES.replaceNeeded })
      .when(sfn.Condition.and(sfn.Condition.booleanEquals('$.replaceTarget', true), sfn.Condition.booleanEquals('$.swap', false)),
        deleteRds.next(
          new sfn.Choice(this, FLOW_STATE_NAMES.deleteDone, { stateName: FLOW_STATE_NAMES.deleteDone })
            .when(sfn.Condition.booleanEquals('$.delete.done', true), restoreChain)
            .otherwise(waitForDelete.next(deleteRds)),
        ))
      .otherwise(restoreChain);

    const copyChoice = new sfn.Choice(this, FLOW_STATE_NAMES.copyNeeded, { stateName: FLOW_STATE_NAMES.copyNeeded })
      .when(sfn.Condition.booleanEquals('$.copyRequired', true),
        copySnapshot.next(waitForCopy).next(checkCopy).next(
          new sfn.Choice(this, FLOW_STATE_NAMES.copyDone, { stateName: FLOW_STATE_NAMES.copyDone })
            .when(sfn.Condition.booleanEquals('$.copy.done', true), replaceChoice)
            .otherwise(waitForCopy),
        ))
      .otherwise(replaceChoice);

    // A dry run: the checklist is notified, and the execution ends as the preflight did. Nothing was locked or written.
    const notifyDryRun = this.invoke(FLOW_STATE_NAMES.notifyDryRun, fns.snsNotification, {
      payload: sfn.TaskInput.fromObject(notificationPayload(DRY_RUN_STATUS)),
      resultPath: sfn.JsonPath.DISCARD,
    });
    catchAll(notifyDryRun, FLOW_STATE_NAMES.notifyDryRun);
    const dryRunFailed = new sfn.Fail(this, FLOW_STATE_NAMES.dryRunFailed, {
      stateName: FLOW_STATE_NAMES.dryRunFailed,
      error: PipelineErrorName.PREFLIGHT_FAILED,
      causePath: sfn.JsonPath.stringAt('$.preflight.summary'),
    });
    const dryRunChoice = new sfn.Choice(this, FLOW_STATE_NAMES.dryRunChoice, { stateName: FLOW_STATE_NAMES.dryRunChoice })
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.dryRun'), sfn.Condition.booleanEquals('$.dryRun', true)),
        notifyDryRun.next(new sfn.Choice(this, FLOW_STATE_NAMES.dryRunPassed, { stateName: FLOW_STATE_NAMES.dryRunPassed })
          .when(sfn.Condition.booleanEquals('$.preflight.passed', true), succeeded)
          .otherwise(dryRunFailed)))
      .otherwise(copyChoice);

    this.definition = snapshotCheck.next(dryRunChoice);
  }

  /**
   * The Pass state after a step's last timeout: `$.error` (or, for SnapshotCheck, the whole state: `replace`) becomes
   * StepTimedOut with a cause that names the step, the timeout it hit and what to check.
   */
  private timedOut(step: string, replace: boolean): sfn.Pass {
    const caught = replace ? '$.Error' : '$.error.Error';
    const cause = `States.Format('Step ${step} ran past its time limit ({}) ${TIMEOUT_RETRIES + 1} times in a row, so it is not tried again. `
      + 'Check the log group of its Lambda function in CloudWatch for where it stopped: usually an AWS endpoint the function cannot '
      + `reach from its subnets (a missing VPC endpoint or NAT route), or a database that does not answer. Fix that, then start a new restore.', ${caught})`;
    const error = { 'Error': PipelineErrorName.STEP_TIMED_OUT, 'Cause.$': cause };
    const name = timedOutStateName(step);
    return new sfn.Pass(this, name, {
      stateName: name,
      parameters: replace ? { error } : error,
      resultPath: replace ? '$' : '$.error',
    });
  }

  /** A Lambda task with the pipeline's retry policy: Lambda service errors, throttling, named transient errors. */
  private invoke(name: string, fn: lambda.IFunction, opts: { payload?: sfn.TaskInput; resultPath: string }): tasks.LambdaInvoke {
    const t = new tasks.LambdaInvoke(this, name, {
      stateName: name,
      lambdaFunction: fn,
      payload: opts.payload,
      // The task's result is the handler's return value, placed at resultPath.
      payloadResponseOnly: true,
      resultPath: opts.resultPath,
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(6)),
    });
    return withRetries(t);
  }
}

/** Lambda service errors (what `retryOnServiceExceptions` covers), retried like AWS recommends. */
const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

function withRetries(t: tasks.LambdaInvoke): tasks.LambdaInvoke {
  t.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
  // A timed-out function is tried again (every step is idempotent), a few times only: a hang usually repeats.
  t.addRetry({
    errors: TIMEOUT_ERROR_NAMES, interval: Duration.seconds(10), maxAttempts: TIMEOUT_RETRIES, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL,
  });
  t.addRetry({
    errors: THROTTLING_ERROR_NAMES,
    interval: Duration.seconds(5),
    maxAttempts: 8,
    backoffRate: 2,
    maxDelay: Duration.minutes(2),
    jitterStrategy: sfn.JitterType.FULL,
  });
  t.addRetry({
    errors: TRANSIENT_ERROR_NAMES,
    interval: Duration.seconds(15),
    maxAttempts: 6,
    backoffRate: 2,
    maxDelay: Duration.minutes(5),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return t;
}

function notificationPayload(status: string): Record<string, unknown> {
  return {
    status,
    'state.$': '$',
    'executionArn.$': '$$.Execution.Id',
    'executionName.$': '$$.Execution.Name',
    'executionStartTime.$': '$$.Execution.StartTime',
    'input.$': '$$.Execution.Input',
  };
}
