/*
 * The synthesized definition run with aws-local-stepfunctions, each task a stand-in that raises what a Lambda
 * function would: every failure, whatever the execution input, ends through NotifyFailure with a named error.
 */
import { Template } from 'aws-cdk-lib/assertions';
import type * as LocalStepFunctions from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { definitionOf } from './definition';
import { defaultStack } from './stacks';
import { forLocalRun, retryingStates, waitStates } from '../support/asl';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine, ExecutionError } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;

const asl = definitionOf(Template.fromStack(defaultStack().stack));
const TASKS = Object.entries(asl.States as Record<string, any>).filter(([, s]) => s.Type === 'Task').map(([name]) => name);

/** An error as Lambda reports it to Step Functions: the name is the error type. */
function lambdaError(name: string, message: string): Error {
  const err = new Error(JSON.stringify({ errorType: name, errorMessage: message }));
  err.name = name;
  return err;
}

interface FlowRun {
  readonly error?: { name: string; cause: string };
  readonly calls: Array<{ state: string; input: any }>;
}

/** Runs the definition; `behave` answers each task call (return a result, or throw). */
async function run(input: unknown, behave: (state: string, input: any) => unknown): Promise<FlowRun> {
  const calls: FlowRun['calls'] = [];
  const handlers = Object.fromEntries(TASKS.map((state) => [state, async (taskInput: any) => {
    calls.push({ state, input: taskInput });
    return behave(state, taskInput);
  }]));
  const machine = new StateMachine(forLocalRun(asl) as any, { validationOptions: { checkArn: true, checkPaths: true } });
  const execution = machine.run(input as any, {
    overrides: {
      taskResourceLocalHandlers: handlers as any,
      waitTimeOverrides: Object.fromEntries(waitStates(asl).map((s) => [s, 0])),
      retryIntervalOverrides: Object.fromEntries(retryingStates(asl).map((s) => [s, 0])),
    },
    context: { Execution: { Id: 'arn:aws:states:eu-west-1:123456789012:execution:sm:run-1', Name: 'run-1', StartTime: '2026-11-29T00:00:00Z' } } as any,
  });
  try {
    await execution.result;
    return { calls };
  } catch (e) {
    if (!(e instanceof ExecutionError)) throw e;
    const cause = (e as Error & { cause?: Error }).cause;
    return { calls, error: { name: cause?.name ?? 'Unknown', cause: cause?.message ?? '' } };
  }
}

describe('the state machine, run locally', () => {
  test.each([
    ['a string', 'restore please'],
    ['an array', [{ snapshotIdentifier: 'x' }]],
    ['a number', 42],
  ])('an execution input that is %s: InvalidInput through NotifyFailure (not a ResultPathMatchFailure that skips it)', async (_what, input) => {
    const out = await run(input, (state) => {
      if (state === 'SnapshotCheck') throw lambdaError('InvalidInput', 'The execution input must be a JSON object');
      return {};
    });
    expect(out.calls.map((c) => c.state)).toEqual(['SnapshotCheck', 'NotifyFailure']);
    // NotifyFailure gets the error as the state, not the raw input plus the error.
    expect(out.calls[1].input.state).toEqual({ error: { Error: 'InvalidInput', Cause: expect.stringContaining('must be a JSON object') } });
    expect(out.error?.name).toBe('InvalidInput');
  });

  test('a function that keeps timing out is tried 3 times, then fails with StepTimedOut naming the step and what to check', async () => {
    const out = await run({}, (state) => {
      if (state === 'SnapshotCheck') return { operationId: 'op', replaceTarget: true, swap: false, copyRequired: false };
      if (state === 'DeleteRds') throw lambdaError('Sandbox.Timedout', 'Task timed out after 300.00 seconds');
      return {};
    });
    expect(out.calls.map((c) => c.state)).toEqual(['SnapshotCheck', 'DeleteRds', 'DeleteRds', 'DeleteRds', 'NotifyFailure']);
    expect(out.calls[4].input.state.error).toEqual({ Error: 'StepTimedOut', Cause: expect.stringMatching(/^Step DeleteRds ran past its time limit \(Sandbox\.Timedout\) 3 times in a row/) });
    expect(out.error?.name).toBe('StepTimedOut');
    expect(out.error?.cause).toContain('a missing VPC endpoint or NAT route');
  });

  test('SnapshotCheck timing out on a non-object input still notifies, as StepTimedOut', async () => {
    const out = await run('x', (state) => {
      if (state === 'SnapshotCheck') throw lambdaError('States.Timeout', 'timed out');
      return {};
    });
    expect(out.calls.map((c) => c.state)).toEqual(['SnapshotCheck', 'SnapshotCheck', 'SnapshotCheck', 'NotifyFailure']);
    expect(out.error).toMatchObject({ name: 'StepTimedOut', cause: expect.stringContaining('Step SnapshotCheck ran past its time limit (States.Timeout)') });
  });

  /** A run that reaches the restored cluster: no copy, no target to replace, restore done at once. */
  const restored = (state: string, validate: () => unknown) => {
    if (state === 'SnapshotCheck') return { operationId: 'op', replaceTarget: false, swap: false, copyRequired: false };
    if (state === 'RestoreSnapshot' || state === 'CheckRestoreStatus') return { done: true, nextWaitSeconds: 0, clusterIdentifier: 'staging-db' };
    if (state === 'ValidateRestore') return validate();
    return {};
  };

  test('ValidateRestore runs after SetupDbUsers on the restored cluster; its summary reaches the success notification at $.validation', async () => {
    const out = await run({}, (state) => restored(state, () => ({ passed: 2, checks: ['built-in:master-login', 'built-in:database:postgres'] })));
    expect(out.error).toBeUndefined();
    expect(out.calls.map((c) => c.state)).toEqual(['SnapshotCheck', 'RestoreSnapshot', 'CheckRestoreStatus', 'SetupDbUsers', 'ValidateRestore', 'ArchiveSnapshot', 'NotifySuccess']);
    expect(out.calls[4].input.state.restore).toMatchObject({ clusterIdentifier: 'staging-db' });
    expect(out.calls[6].input.state.validation).toEqual({ passed: 2, checks: ['built-in:master-login', 'built-in:database:postgres'] });
  });

  test('a failed validation is not retried: ValidationFailed through NotifyFailure, nothing archived', async () => {
    const out = await run({}, (state) => restored(state, () => {
      throw lambdaError('ValidationFailed', 'Validation query "orders" (database "app") failed: it returned no rows.');
    }));
    expect(out.calls.map((c) => c.state)).toEqual(['SnapshotCheck', 'RestoreSnapshot', 'CheckRestoreStatus', 'SetupDbUsers', 'ValidateRestore', 'NotifyFailure']);
    expect(out.calls[5].input.state.error).toEqual({ Error: 'ValidationFailed', Cause: expect.stringContaining('orders') });
    expect(out.error?.name).toBe('ValidationFailed');
  });
});
