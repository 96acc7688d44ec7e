import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { definitionOf } from './definition';
import { defaultStack } from './stacks';
import { DatabasePrivilege, PreviousTargetRetention, UnmanagedLogins } from '../../src';

// asl-validator is CommonJS without types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator');

const TASKS = ['SnapshotCheck', 'CopySnapshot', 'CheckCopyStatus', 'DeleteRds', 'RestoreSnapshot', 'CheckRestoreStatus', 'SetupDbUsers', 'ValidateRestore',
  'DeleteKeptPreviousTarget', 'Cutover', 'RetirePreviousTarget', 'ArchiveSnapshot', 'NotifySuccess'];

describe('state machine definition', () => {
  const asl = definitionOf(Template.fromStack(defaultStack().stack));
  const states = asl.States as Record<string, any>;

  test('is valid ASL', () => {
    const { isValid, errorsText } = aslValidator(asl);
    expect(errorsText()).toBe('');
    expect(isValid).toBe(true);
  });

  test('starts with SnapshotCheck, which receives the execution context and replaces the state', () => {
    expect(asl.StartAt).toBe('SnapshotCheck');
    const s = states.SnapshotCheck;
    expect(s.Parameters).toEqual({
      'input.$': '$$.Execution.Input',
      'executionArn.$': '$$.Execution.Id',
      'executionName.$': '$$.Execution.Name',
      'executionStartTime.$': '$$.Execution.StartTime',
      'users': [],
    });
    expect(s.ResultPath).toBe('$');
    expect(s.Next).toBe('DryRun?');
  });

  test('a dry run goes from DryRun? to NotifyDryRun, then Succeeded or DryRunFailed (PreflightFailed); a restore to CopyNeeded?', () => {
    const choice = states['DryRun?'];
    expect(choice.Type).toBe('Choice');
    expect(choice.Choices).toEqual([{
      And: [{ Variable: '$.dryRun', IsPresent: true }, { Variable: '$.dryRun', BooleanEquals: true }],
      Next: 'NotifyDryRun',
    }]);
    expect(choice.Default).toBe('CopyNeeded?');
    const notify = states.NotifyDryRun;
    expect(notify.Parameters).toMatchObject({ 'status': 'DRY_RUN', 'state.$': '$' });
    expect(notify.ResultPath).toBeNull();
    expect(notify.Next).toBe('DryRunPassed?');
    expect(notify.Catch.at(-1)).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'NotifyFailure' });
    expect(states['DryRunPassed?'].Choices).toEqual([{ Variable: '$.preflight.passed', BooleanEquals: true, Next: 'Succeeded' }]);
    expect(states['DryRunPassed?'].Default).toBe('DryRunFailed');
    expect(states.DryRunFailed).toMatchObject({ Type: 'Fail', Error: 'PreflightFailed', CausePath: '$.preflight.summary' });
  });

  test.each([
    ['CopySnapshot', '$.copy'], ['CheckCopyStatus', '$.copy'], ['DeleteRds', '$.delete'], ['RestoreSnapshot', '$.restore'],
    ['CheckRestoreStatus', '$.restore'], ['Cutover', '$.cutover'], ['ArchiveSnapshot', '$.archive'],
  ])('%s gets the whole state and writes %s', (name, resultPath) => {
    expect(states[name].Type).toBe('Task');
    expect(states[name].InputPath ?? '$').toBe('$');
    // No Parameters: the handler receives the whole state object (not a path string).
    expect(states[name]).not.toHaveProperty('Parameters');
    expect(states[name].ResultPath).toBe(resultPath);
    expect(states[name].Resource).toMatch(/^arn:aws:lambda:.*:function:RestoreHandlers/);
  });

  test('SetupDbUsers gets the state and the user list (in the definition, not in the 4 KB function environment)', () => {
    expect(states.SetupDbUsers.Parameters).toEqual({ 'state.$': '$', 'users': [], 'unmanagedLogins': 'DISABLE' });
    expect(states.SetupDbUsers.ResultPath).toBe('$.dbUsers');
    const withUsers = definitionOf(Template.fromStack(defaultStack({
      databaseUsers: [{ username: 'reporting' }, { username: 'batch', connectionLimit: 4 }],
      unmanagedLogins: UnmanagedLogins.KEEP,
    }).stack));
    expect(withUsers.States.SetupDbUsers.Parameters.unmanagedLogins).toBe('KEEP');
    expect(withUsers.States.SetupDbUsers.Parameters.users[1]).toMatchObject({ username: 'batch', connectionLimit: 4 });
    expect(withUsers.States.SetupDbUsers.Parameters.users.slice(0, 1)).toEqual([{
      username: 'reporting',
      secretArn: expect.stringMatching(/UserSecretreporting/),
      usernameKey: 'username',
      passwordKey: 'password',
      privilege: 'READ_ONLY',
      databases: ['postgres'],
      schemas: ['public'],
    }]);
  });

  test('ValidateRestore gets the state, the databases that must exist, the queries and their timeout (task input), and writes $.validation', () => {
    expect(states.ValidateRestore.Parameters).toEqual({ 'state.$': '$', 'databases': ['postgres'], 'queries': [], 'statementTimeoutSeconds': 30 });
    expect(states.ValidateRestore.ResultPath).toBe('$.validation');
    const configured = definitionOf(Template.fromStack(defaultStack({
      databaseNames: ['app', 'reports'],
      databaseUsers: [{ username: 'etl', privilege: DatabasePrivilege.READ_WRITE, databases: ['warehouse'] }],
      validationQueries: [
        { name: 'orders', sql: 'SELECT count(*) FROM orders' },
        { name: 'warehouse-fresh', database: 'warehouse', sql: "SELECT max(loaded_at) > now() - interval '1 day' FROM loads" },
      ],
      validationStatementTimeout: Duration.minutes(2),
    }).stack));
    expect(configured.States.ValidateRestore.Parameters).toEqual({
      'state.$': '$',
      'databases': ['app', 'reports', 'warehouse'],
      'queries': [
        { name: 'orders', database: 'app', sql: 'SELECT count(*) FROM orders' },
        { name: 'warehouse-fresh', database: 'warehouse', sql: "SELECT max(loaded_at) > now() - interval '1 day' FROM loads" },
      ],
      'statementTimeoutSeconds': 120,
    });
  });

  test.each(TASKS)('%s retries Lambda errors, throttling and the transient errors only, and catches everything', (name) => {
    const retry = states[name].Retry as any[];
    const retried = retry.flatMap((r) => r.ErrorEquals);
    expect(retried).toEqual(expect.arrayContaining([
      'Lambda.ServiceException', 'Lambda.TooManyRequestsException',
      'ThrottlingException', 'Throttling', 'TooManyRequestsException',
      'ResourceBusy', 'DatabaseUnavailable', 'AwsServiceUnavailable',
    ]));
    // Never a permanent error, never States.ALL.
    for (const permanent of ['States.ALL', 'TargetNotOwned', 'SnapshotNotFound', 'DeletionProtected', 'InvalidInput', 'OperationTimedOut', 'RestoreAlreadyInProgress', 'ValidationFailed']) {
      expect(retried).not.toContain(permanent);
    }
    for (const r of retry) {
      expect(r.MaxAttempts).toBeGreaterThan(0);
      expect(r.BackoffRate).toBeGreaterThanOrEqual(2);
      expect(r.JitterStrategy).toBe('FULL');
    }
    // A function that keeps timing out is retried a bounded number of times.
    expect(retry.find((r) => r.ErrorEquals.includes('Sandbox.Timedout'))).toMatchObject({ ErrorEquals: ['Sandbox.Timedout', 'States.Timeout'], MaxAttempts: 2 });
    if (name === 'SnapshotCheck') {
      // The state is the raw execution input: replaced by the error, so a non-object or near-limit input still notifies.
      expect(states[name].Catch).toEqual([
        { ErrorEquals: ['Sandbox.Timedout', 'States.Timeout'], ResultPath: '$', Next: 'SnapshotCheckTimedOut' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$', Next: 'SnapshotCheckFailed' },
      ]);
      expect(states.SnapshotCheckFailed).toMatchObject({ Type: 'Pass', Parameters: { 'error.$': '$' }, Next: 'NotifyFailure' });
      expect(states.SnapshotCheckTimedOut).toMatchObject({ Type: 'Pass', ResultPath: '$', Parameters: { error: { 'Error': 'StepTimedOut', 'Cause.$': expect.stringContaining('$.Error)') } } });
    } else {
      expect(states[name].Catch).toEqual([
        { ErrorEquals: ['Sandbox.Timedout', 'States.Timeout'], ResultPath: '$.error', Next: `${name}TimedOut` },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'NotifyFailure' },
      ]);
      expect(states[`${name}TimedOut`]).toMatchObject({ Type: 'Pass', ResultPath: '$.error', Next: 'NotifyFailure', Parameters: { Error: 'StepTimedOut' } });
      expect(states[`${name}TimedOut`].Parameters['Cause.$']).toBe(`States.Format('Step ${name} ran past its time limit ({}) 3 times in a row, so it is not tried again. `
        + 'Check the log group of its Lambda function in CloudWatch for where it stopped: usually an AWS endpoint the function cannot reach from its subnets '
        + '(a missing VPC endpoint or NAT route), or a database that does not answer. Fix that, then start a new restore.\', $.error.Error)');
    }
  });

  test('copy happens only when regions differ, then loops until done', () => {
    expect(states['CopyNeeded?'].Choices).toEqual([{ Variable: '$.copyRequired', BooleanEquals: true, Next: 'CopySnapshot' }]);
    expect(states['CopyNeeded?'].Default).toBe('ReplaceTarget?');
    expect(states.CopySnapshot.Next).toBe('WaitForCopy');
    expect(states.WaitForCopy).toMatchObject({ Type: 'Wait', SecondsPath: '$.copy.nextWaitSeconds', Next: 'CheckCopyStatus' });
    expect(states.CheckCopyStatus.Next).toBe('CopyDone?');
    expect(states['CopyDone?'].Choices).toEqual([{ Variable: '$.copy.done', BooleanEquals: true, Next: 'ReplaceTarget?' }]);
    expect(states['CopyDone?'].Default).toBe('WaitForCopy');
  });

  test('the target is deleted first only when SnapshotCheck decided to replace it without a swap; DeleteRds is its own status check', () => {
    expect(states['ReplaceTarget?'].Choices).toEqual([{
      And: [{ Variable: '$.replaceTarget', BooleanEquals: true }, { Variable: '$.swap', BooleanEquals: false }],
      Next: 'DeleteRds',
    }]);
    expect(states['ReplaceTarget?'].Default).toBe('RestoreSnapshot');
    expect(states.DeleteRds.Next).toBe('DeleteDone?');
    expect(states['DeleteDone?'].Choices).toEqual([{ Variable: '$.delete.done', BooleanEquals: true, Next: 'RestoreSnapshot' }]);
    expect(states['DeleteDone?'].Default).toBe('WaitForDelete');
    expect(states.WaitForDelete).toMatchObject({ Type: 'Wait', SecondsPath: '$.delete.nextWaitSeconds', Next: 'DeleteRds' });
  });

  test('restore loops until the cluster is ready, then users, validation, archive, success notification', () => {
    expect(states.RestoreSnapshot.Next).toBe('WaitForRestore');
    expect(states.WaitForRestore).toMatchObject({ Type: 'Wait', SecondsPath: '$.restore.nextWaitSeconds', Next: 'CheckRestoreStatus' });
    expect(states['RestoreDone?'].Choices).toEqual([{ Variable: '$.restore.done', BooleanEquals: true, Next: 'SetupDbUsers' }]);
    expect(states['RestoreDone?'].Default).toBe('WaitForRestore');
    expect(states.SetupDbUsers.Next).toBe('ValidateRestore');
    expect(states.ValidateRestore.Next).toBe('Swap?');
    expect(states['Swap?'].Choices).toEqual([{ Variable: '$.swap', BooleanEquals: true, Next: 'DeleteKeptPreviousTarget' }]);
    expect(states['Swap?'].Default).toBe('ArchiveSnapshot');
    expect(states.ArchiveSnapshot.Next).toBe('NotifySuccess');
    expect(states.NotifySuccess.Parameters).toMatchObject({ 'status': 'SUCCEEDED', 'state.$': '$', 'executionArn.$': '$$.Execution.Id' });
    expect(states.NotifySuccess.ResultPath).toBeNull();
    expect(states.NotifySuccess.Next).toBe('Succeeded');
    expect(states.Succeeded.Type).toBe('Succeed');
  });

  test('swap: a previous target an earlier swap kept is deleted, then the cutover loops, then the previous target is retired', () => {
    expect(states.DeleteKeptPreviousTarget).toMatchObject({
      Parameters: { 'state.$': '$', 'subject': 'KEPT_PREVIOUS' }, ResultPath: '$.keptPrevious', Next: 'KeptPreviousTargetDeleted?',
    });
    expect(states.DeleteKeptPreviousTarget.Resource).toEqual(states.DeleteRds.Resource);
    expect(states['KeptPreviousTargetDeleted?'].Choices).toEqual([{ Variable: '$.keptPrevious.done', BooleanEquals: true, Next: 'Cutover' }]);
    expect(states['KeptPreviousTargetDeleted?'].Default).toBe('WaitForKeptPreviousTarget');
    expect(states.WaitForKeptPreviousTarget).toMatchObject({ Type: 'Wait', SecondsPath: '$.keptPrevious.nextWaitSeconds', Next: 'DeleteKeptPreviousTarget' });
    expect(states.Cutover.Next).toBe('CutoverDone?');
    expect(states['CutoverDone?'].Choices).toEqual([{ Variable: '$.cutover.done', BooleanEquals: true, Next: 'RetirePreviousTarget' }]);
    expect(states['CutoverDone?'].Default).toBe('WaitForCutover');
    expect(states.WaitForCutover).toMatchObject({ Type: 'Wait', SecondsPath: '$.cutover.nextWaitSeconds', Next: 'Cutover' });
    expect(states.RetirePreviousTarget).toMatchObject({ Parameters: { 'state.$': '$', 'subject': 'PREVIOUS' }, ResultPath: '$.retire', Next: 'RetireDone?' });
    expect(states['RetireDone?'].Choices).toEqual([{ Variable: '$.retire.done', BooleanEquals: true, Next: 'ArchiveSnapshot' }]);
    expect(states.WaitForRetire).toMatchObject({ Type: 'Wait', SecondsPath: '$.retire.nextWaitSeconds', Next: 'RetirePreviousTarget' });
  });

  test('PreviousTargetRetention.KEEP: the cutover goes straight to the archive, nothing retires the previous target', () => {
    const keepStack = defaultStack({ previousTargetRetention: PreviousTargetRetention.KEEP }).stack;
    const keep = definitionOf(Template.fromStack(keepStack)).States as Record<string, any>;
    expect(keep['CutoverDone?'].Choices).toEqual([{ Variable: '$.cutover.done', BooleanEquals: true, Next: 'ArchiveSnapshot' }]);
    expect(keep.RetirePreviousTarget).toBeUndefined();
    expect(keep.DeleteKeptPreviousTarget).toBeDefined();
  });

  test('failure path: notify, then fail with the original error name and cause', () => {
    expect(states.NotifyFailure.Parameters).toMatchObject({ 'status': 'FAILED', 'state.$': '$', 'input.$': '$$.Execution.Input' });
    expect(states.NotifyFailure.ResultPath).toBeNull();
    expect(states.NotifyFailure.Next).toBe('Failed');
    // A failing notification still ends in Failed with the original error.
    expect(states.NotifyFailure.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.notificationError', Next: 'Failed' }]);
    expect(states.Failed).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  test('a 24-hour restore stays far below the 25,000-event history limit', () => {
    // Each loop round is a Wait (2 events) and a Lambda task (5 events). With the default 30 s first
    // wait growing by 1.5 up to 5 minutes, count the rounds of a 24-hour wait.
    let elapsed = 0; let rounds = 0; let wait = 30;
    while (elapsed < 24 * 3600) {
      elapsed += wait; rounds++; wait = Math.min(300, Math.round(30 * 1.5 ** rounds));
    }
    expect(rounds * 7).toBeLessThan(2500);
  });
});
