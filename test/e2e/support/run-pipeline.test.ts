/*
 * The e2e runner on a small hand-built stack: rendered ASL run by aws-local-stepfunctions, each task
 * running its function's code asset with the template's environment, errors mapped like Lambda maps them.
 * Also pins the aws-local-stepfunctions 3 behaviours the runner relies on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type * as LocalStepFunctions from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { invokeFunction, lambdaError, localFunctions, runPipeline, type RunPipelineOptions } from './run-pipeline';
import { forLocalRun, renderStateMachine } from '../../support/asl';
import { functionAssetSources, templateFunctions, TemplateResolver, type CfnTemplate } from '../../support/template';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- ESM-typed package, CommonJS build (see run-pipeline.ts)
const { ExecutionError, StateMachine } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;

jest.setTimeout(600_000);

describe('aws-local-stepfunctions 3 (what the runner relies on)', () => {
  const definition = {
    StartAt: 'Call',
    States: {
      Call: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { 'FunctionName': 'arn:aws:lambda:eu-west-1:123456789012:function:f', 'Payload.$': '$' },
        ResultSelector: { 'out.$': '$.Payload' },
        ResultPath: '$.call',
        Retry: [{ ErrorEquals: ['ResourceBusy'], MaxAttempts: 2, IntervalSeconds: 30 }],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
        End: true,
      },
      Failed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
    },
  };

  test('a local handler of lambda:invoke receives { FunctionName, Payload }; retries match the thrown error\'s name', async () => {
    const inputs: unknown[] = [];
    let calls = 0;
    const run = new StateMachine(definition as any).run({ a: 1 }, {
      overrides: {
        taskResourceLocalHandlers: {
          Call: async (input) => {
            inputs.push(input);
            if (calls++ === 0) throw lambdaError(Object.assign(new Error('busy'), { name: 'ResourceBusy' }));
            return { Payload: { ok: true } };
          },
        },
        retryIntervalOverrides: { Call: 0 },
      },
    });
    await expect(run.result).resolves.toEqual({ a: 1, call: { out: { ok: true } } });
    expect(inputs).toEqual([
      { FunctionName: 'arn:aws:lambda:eu-west-1:123456789012:function:f', Payload: { a: 1 } },
      { FunctionName: 'arn:aws:lambda:eu-west-1:123456789012:function:f', Payload: { a: 1 } },
    ]);
  });

  test('Catch writes { Error: name, Cause: message }; a Fail state with ErrorPath/CausePath fails the execution with them', async () => {
    const run = new StateMachine(definition as any).run({ a: 1 }, {
      overrides: { taskResourceLocalHandlers: { Call: async () => { throw lambdaError(Object.assign(new Error('no such snapshot'), { name: 'SnapshotNotFound' })); } } },
    });
    const events: any[] = [];
    const collect = (async () => {
      for await (const ev of run.eventLogs) events.push(ev);
    })();
    const err = await run.result.catch((e) => e);
    await collect;
    expect(err).toBeInstanceOf(ExecutionError);
    expect(err.cause.name).toBe('SnapshotNotFound');
    expect(JSON.parse(err.cause.message)).toMatchObject({ errorType: 'SnapshotNotFound', errorMessage: 'no such snapshot' });
    const caught = events.find((e) => e.type === 'StateEntered' && e.state.name === 'Failed');
    expect(caught.state.input.error.Error).toBe('SnapshotNotFound');
    expect(events.find((e) => e.type === 'ExecutionFailed')).toMatchObject({ Error: 'SnapshotNotFound' });
  });
});

describe('forLocalRun', () => {
  const definition = {
    StartAt: 'Replace',
    States: {
      Replace: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:eu-west-1:123456789012:function:f',
        ResultPath: '$',
        Next: 'Check',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$', Next: 'Done' }, { ErrorEquals: ['X'], ResultPath: '$.error', Next: 'Done' }],
      },
      Check: { Type: 'Choice', Choices: [{ Variable: '$.replaced', BooleanEquals: true, Next: 'Done' }], Default: 'Done' },
      Done: { Type: 'Succeed' },
    },
  };
  const handlers = { taskResourceLocalHandlers: { Replace: async () => ({ replaced: true }) } };

  test('aws-local-stepfunctions 3.0.0 stores a ResultPath "$" result under a key "$" (Step Functions replaces the state)', async () => {
    const run = new StateMachine(definition as any).run({ before: 1 }, { overrides: handlers });
    await expect(run.result).rejects.toThrow(/'\$\.replaced' does not point to a value/);
  });

  test('drops only ResultPath "$" (the default), so the run matches Step Functions', async () => {
    const fixed = forLocalRun(definition as any);
    expect(fixed.States.Replace.ResultPath).toBeUndefined();
    expect(fixed.States.Replace.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'Done' }, { ErrorEquals: ['X'], ResultPath: '$.error', Next: 'Done' }]);
    expect(definition.States.Replace.ResultPath).toBe('$');
    await expect(new StateMachine(fixed as any).run({ before: 1 }, { overrides: handlers }).result).resolves.toEqual({ replaced: true });
  });
});

const HANDLERS: Record<string, string> = {
  // Records what it sees, so the test can check the payload and the environment.
  start: `
    exports.handler = async (event, context) => {
      console.log('start sees', JSON.stringify({ step: process.env.STEP_NAME }));
      return { step: process.env.STEP_NAME, endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION,
        peer: process.env.PEER_ARN, functionName: context.functionName, sawInput: event, nextWaitSeconds: 30 };
    };`,
  // Module state lives as long as a run: the first call of each run is "busy", so the state machine retries.
  work: `
    let calls = 0;
    exports.handler = async (event) => {
      calls += 1;
      if (calls === 1) { const e = new Error('the cluster is busy; retry'); e.name = 'ResourceBusy'; throw e; }
      if (event.input && event.input.fail) { const e = new Error('snapshot snap-x does not exist; check the identifier'); e.name = 'SnapshotNotFound'; throw e; }
      if (event.input && event.input.crash) { null.boom; }
      return { calls, step: process.env.STEP_NAME };
    };`,
  notify: `
    exports.main = async (event) => ({ notified: event.status, error: event.state && event.state.error, step: process.env.STEP_NAME });`,
};

describe('runPipeline', () => {
  let root: string;
  let options: Omit<RunPipelineOptions, 'input'>;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-runner-'));
    const app = new App();
    const stack = new Stack(app, 'Runner', { env: { region: 'eu-west-1', account: '123456789012' } });
    const fns: Record<string, lambda.Function> = {};
    for (const [name, code] of Object.entries(HANDLERS)) {
      const dir = path.join(root, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'index.js'), code);
      fns[name] = new lambda.Function(stack, name, {
        runtime: lambda.Runtime.NODEJS_22_X,
        code: lambda.Code.fromAsset(dir),
        timeout: Duration.seconds(10),
        handler: name === 'notify' ? 'index.main' : 'index.handler',
        environment: { STEP_NAME: name },
      });
    }
    fns.start.addEnvironment('PEER_ARN', fns.work.functionArn);
    const notifyFailure = new tasks.LambdaInvoke(stack, 'NotifyFailure', {
      lambdaFunction: fns.notify,
      payload: sfn.TaskInput.fromObject({ 'status': 'FAILED', 'state.$': '$' }),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(new sfn.Fail(stack, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' }));
    const catchAll = { resultPath: '$.error' };
    const start = new tasks.LambdaInvoke(stack, 'Start', { lambdaFunction: fns.start, resultSelector: { 'r.$': '$.Payload' }, resultPath: '$.start' })
      .addCatch(notifyFailure, catchAll);
    const work = new tasks.LambdaInvoke(stack, 'Work', { lambdaFunction: fns.work, payload: sfn.TaskInput.fromObject({ 'input.$': '$$.Execution.Input', 'name.$': '$$.Execution.Name', 'id.$': '$$.Execution.Id' }), payloadResponseOnly: true, resultPath: '$.work' })
      .addRetry({ errors: ['ResourceBusy'], maxAttempts: 2, interval: Duration.seconds(20) })
      .addCatch(notifyFailure, catchAll);
    const wait = new sfn.Wait(stack, 'Pause', { time: sfn.WaitTime.secondsPath('$.start.r.nextWaitSeconds') });
    const notifySuccess = new tasks.LambdaInvoke(stack, 'NotifySuccess', {
      lambdaFunction: fns.notify, payload: sfn.TaskInput.fromObject({ 'status': 'SUCCEEDED', 'state.$': '$' }), resultSelector: { 'n.$': '$.Payload' }, resultPath: '$.notify',
    });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(start.next(work).next(wait).next(notifySuccess)) });

    const template = Template.fromStack(stack).toJSON() as CfnTemplate;
    const resolver = new TemplateResolver(template, { region: 'eu-west-1' });
    options = {
      definition: renderStateMachine(resolver).definition,
      functions: localFunctions(templateFunctions(resolver), functionAssetSources(stack, template)),
      resolver,
      awsEnv: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' },
    };
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('runs every task with its own bundle and environment, retries by error name, and leaves process.env as it was', async () => {
    const envBefore = { ...process.env };
    const run = await runPipeline({ ...options, input: { requestedBy: 'test' }, executionName: 'exec-1' });

    expect(run.status).toBe('SUCCEEDED');
    // A retry does not enter the state again (as in Step Functions' history); the invocations show it.
    expect(run.path).toEqual(['Start', 'Work', 'Pause', 'NotifySuccess']);
    expect(run.invocations.map((i) => [i.stateName, i.error?.errorType ?? 'ok'])).toEqual([
      ['Start', 'ok'], ['Work', 'ResourceBusy'], ['Work', 'ok'], ['NotifySuccess', 'ok'],
    ]);
    const out = run.output as any;
    expect(out.start.r).toMatchObject({
      step: 'start',
      endpoint: 'http://127.0.0.1:1',
      region: 'eu-west-1',
      sawInput: { requestedBy: 'test' },
      peer: expect.stringMatching(/^arn:aws:lambda:eu-west-1:123456789012:function:/),
    });
    expect(out.start.r.peer).toBe(options.functions.find((f) => f.environment.STEP_NAME === 'work')!.arn);
    expect(out.work).toEqual({ calls: 2, step: 'work' });
    expect(run.invocations[1].event).toEqual({ input: { requestedBy: 'test' }, name: 'exec-1', id: run.executionArn });
    expect(run.executionArn).toBe('arn:aws:states:eu-west-1:123456789012:execution:Pipeline:exec-1');
    expect(out.notify.n).toMatchObject({ notified: 'SUCCEEDED', step: 'notify' });
    expect(run.invocations[0].logs).toEqual(['start sees {"step":"start"}']);
    expect(run.events.some((e) => e.type === 'StateRetried')).toBe(true);
    expect(process.env).toEqual(envBefore);
  });

  test('a new run loads fresh modules (module state does not leak between runs)', async () => {
    const run = await runPipeline({ ...options, input: {} });
    expect(run.invocations.filter((i) => i.stateName === 'Work').map((i) => i.error?.errorType ?? 'ok')).toEqual(['ResourceBusy', 'ok']);
  });

  test('a named error is caught into $.error like Lambda reports it, and the Fail state ends the execution with it', async () => {
    const run = await runPipeline({ ...options, input: { fail: true } });
    expect(run.status).toBe('FAILED');
    expect(run.path).toEqual(['Start', 'Work', 'NotifyFailure', 'Failed']);
    expect(run.error!.Error).toBe('SnapshotNotFound');
    const cause = JSON.parse(run.error!.Cause);
    expect(cause).toMatchObject({ errorType: 'SnapshotNotFound', errorMessage: 'snapshot snap-x does not exist; check the identifier' });
    expect(Array.isArray(cause.trace)).toBe(true);
    const notified = run.invocations.find((i) => i.stateName === 'NotifyFailure')!;
    expect(notified.result).toMatchObject({ notified: 'FAILED', error: { Error: 'SnapshotNotFound', Cause: run.error!.Cause } });
    expect(run.events.find((e) => e.type === 'ExecutionFailed')).toMatchObject({ Error: 'SnapshotNotFound' });
  });

  test('an unexpected crash (TypeError) is caught by States.ALL under its own name, not retried', async () => {
    const run = await runPipeline({ ...options, input: { crash: true } });
    expect(run.status).toBe('FAILED');
    expect(run.error!.Error).toBe('TypeError');
    expect(run.invocations.filter((i) => i.stateName === 'Work')).toHaveLength(2);
  });

  test('beforeTask runs before each invocation with the attempt number', async () => {
    const seen: Array<[string, number]> = [];
    await runPipeline({ ...options, input: {}, beforeTask: (state, _event, attempt) => { seen.push([state, attempt]); } });
    expect(seen).toEqual([['Start', 0], ['Work', 0], ['Work', 1], ['NotifySuccess', 0]]);
  });

  test('a signal stops the execution like StopExecution: ABORTED, no further state, the task under way finishes first', async () => {
    const stop = new AbortController();
    const run = await runPipeline({
      ...options,
      input: {},
      signal: stop.signal,
      beforeTask: (state, _event, attempt) => {
        // Stopped while the second Work invocation runs: it still finishes, nothing runs after it.
        if (state === 'Work' && attempt === 1) stop.abort();
      },
    });
    expect(run.status).toBe('ABORTED');
    expect(run.error).toBeUndefined();
    expect(run.invocations.map((i) => [i.stateName, i.error?.errorType ?? 'ok'])).toEqual([['Start', 'ok'], ['Work', 'ResourceBusy'], ['Work', 'ok']]);
    expect(run.path).not.toContain('Pause');
    expect(run.events.map((e) => e.type)).toContain('ExecutionAborted');

    const early = new AbortController();
    early.abort();
    const never = await runPipeline({ ...options, input: {}, signal: early.signal });
    expect(never.status).toBe('ABORTED');
    expect(never.invocations.length).toBeLessThanOrEqual(1);
  });

  test('invokeFunction runs one function outside an execution, with its environment, a fresh module, and the error as Lambda reports it', async () => {
    const envBefore = { ...process.env };
    const work = options.functions.find((f) => f.environment.STEP_NAME === 'work')!;
    // A fresh module each time: the first call of each is the "busy" one.
    for (let i = 0; i < 2; i++) {
      const failed = await invokeFunction(work, { input: {} }, { region: 'eu-west-1', awsEnv: options.awsEnv });
      expect(failed).toMatchObject({ logicalId: work.logicalId, error: { errorType: 'ResourceBusy', errorMessage: 'the cluster is busy; retry' } });
    }
    const start = options.functions.find((f) => f.environment.STEP_NAME === 'start')!;
    const ok = await invokeFunction(start, { a: 1 }, { region: 'eu-west-1', awsEnv: options.awsEnv });
    expect(ok.error).toBeUndefined();
    expect(ok.result).toMatchObject({ step: 'start', endpoint: 'http://127.0.0.1:1', region: 'eu-west-1', sawInput: { a: 1 } });
    expect(ok.logs).toEqual(['start sees {"step":"start"}']);
    expect(process.env).toEqual(envBefore);
  });

  test('afterTask sees each invocation once it is over (console and environment restored), with its outcome and timing', async () => {
    const seen: Array<[string, number, string, boolean]> = [];
    // The test's own console (kept out of the test output): afterTask must print there, not into a handler's log.
    const printed: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
    const run = await runPipeline({
      ...options,
      input: {},
      executionName: 'after-1',
      afterTask: (inv) => {
        seen.push([inv.stateName, inv.attempt, inv.error?.errorType ?? 'ok', process.env.STEP_NAME === undefined]);
        console.log(`after ${inv.stateName}`);
      },
    }).finally(() => spy.mockRestore());
    expect(printed.filter((l) => l.startsWith('after '))).toEqual(['after Start', 'after Work', 'after Work', 'after NotifySuccess']);
    expect(seen).toEqual([['Start', 0, 'ok', true], ['Work', 0, 'ResourceBusy', true], ['Work', 1, 'ok', true], ['NotifySuccess', 0, 'ok', true]]);
    expect(run.invocations.every((i) => i.executionName === 'after-1' && i.durationMs >= 0 && i.startedAt > 0)).toBe(true);
    // What afterTask printed is not taken for the handler's output.
    expect(run.invocations.flatMap((i) => i.logs).filter((l) => l.startsWith('after '))).toEqual([]);
  });

  test('runs going on at once interleave their tasks, each with its own module state, and leave process.env as it was', async () => {
    const envBefore = { ...process.env };
    const [a, b] = await Promise.all([
      runPipeline({ ...options, input: {}, executionName: 'together-a' }),
      runPipeline({ ...options, input: { fail: true }, executionName: 'together-b' }),
    ]);
    expect(a.status).toBe('SUCCEEDED');
    expect(b.status).toBe('FAILED');
    expect(b.error!.Error).toBe('SnapshotNotFound');
    const spanOf = (run: typeof a) => [run.invocations[0].startedAt, run.invocations[run.invocations.length - 1].startedAt];
    const [aFirst, aLast] = spanOf(a);
    const [bFirst, bLast] = spanOf(b);
    expect(aFirst < bLast && bFirst < aLast).toBe(true);
    // Each run's first Work call is "busy" (module state per run), whatever the other run did.
    for (const run of [a, b]) expect(run.invocations.find((i) => i.stateName === 'Work')!.error?.errorType).toBe('ResourceBusy');
    expect(process.env).toEqual(envBefore);
  });

  test('refuses a Task whose Parameters is a string (CDK\'s payloadResponseOnly + fromJsonPathAt), naming the state', async () => {
    const broken = JSON.parse(JSON.stringify(options.definition));
    broken.States.Work.Parameters = '$';
    await expect(runPipeline({ ...options, definition: broken, input: {} })).rejects.toThrow(/Task Work has Parameters "\$", not an object/);
  });

  test('refuses a definition whose task names a function it was not given', async () => {
    await expect(runPipeline({ ...options, functions: options.functions.filter((f) => f.environment.STEP_NAME !== 'work'), input: {} }))
      .rejects.toThrow(/Task Work invokes .* which is none of the functions given/);
  });
});
