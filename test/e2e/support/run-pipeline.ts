/*
 * Runs a rendered state machine with aws-local-stepfunctions, every Lambda task running the bundled
 * handler of its function (the file its code asset points at) in this process, with the environment the
 * template gives that function plus the caller's AWS endpoint settings (moto).
 *
 * What a task sees and returns follows Lambda and Step Functions:
 * - `arn:aws:states:::lambda:invoke`: the local handler receives the Task's effective Parameters
 *   `{ FunctionName, Payload }`; the handler gets `Payload`; the task result is `{ Payload, StatusCode: 200, ... }`.
 *   A function ARN as Resource: the handler gets the state input and its return is the result.
 * - A thrown error becomes what Lambda reports: the Step Functions error name is the error's `name`
 *   (Lambda's errorType), the cause a JSON string `{ errorType, errorMessage, trace }`.
 * - The definition runs as given, except for {@link forLocalRun}'s workaround of an emulator bug.
 * - Each function is a separate module instance, loaded once per run (a warm container); a new run loads
 *   fresh ones, so SDK clients never outlive the moto server they were created for.
 * - Several runs may go on at once (two executions racing for one target): their tasks interleave one
 *   invocation at a time, since every handler runs in this process with its own `process.env`.
 * - A run can be stopped like StopExecution (`signal`): the execution ends ABORTED, no further state runs,
 *   and the run returns only once an invocation under way has finished.
 * - {@link invokeFunction} runs one function outside any execution, the way Lambda runs an asynchronous
 *   invocation (e.g. an EventBridge event), with the same environment and isolation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as LocalStepFunctions from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { definitionProblems, forLocalRun, lambdaTasks, retryingStates, waitStates, type AslDefinition } from '../../support/asl';
import { useSdkLayer } from '../../support/sdk-layer';
import type { TemplateFunction, TemplateResolver } from '../../support/template';

// The package is ESM-typed, so TypeScript (module node16) refuses a static import from CommonJS; its
// `require` export condition serves a CommonJS build, which is what runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine, ExecutionError, ExecutionAbortedError, ExecutionTimeoutError } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;

/** An event of an execution's log (the package does not export the type). */
export type EventLog = ReturnType<LocalStepFunctions.StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** A Lambda function as the harness runs it. */
export interface LocalFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly arn: string;
  /** The bundle to load, e.g. `<repo>/assets/delete-rds/index.js`. */
  readonly bundlePath: string;
  /** Exported handler name (from `Handler`, e.g. `index.handler` → `handler`). */
  readonly exportName: string;
  /** The function's environment from the template, resolved. */
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
}

/**
 * Pairs each function of the template with its bundle: `assetSources` maps logical ids to their code
 * folders (from {@link functionAssetSources}); the file is the `Handler`'s module in that folder.
 */
export function localFunctions(functions: TemplateFunction[], assetSources: Record<string, string>): LocalFunction[] {
  return functions.map((f) => {
    const dir = assetSources[f.logicalId];
    if (!dir) throw new Error(`No code asset found for ${f.logicalId}; only Code.fromAsset functions can run locally`);
    const dot = f.handler.lastIndexOf('.');
    const bundlePath = path.join(dir, `${f.handler.slice(0, dot)}.js`);
    if (!fs.existsSync(bundlePath)) {
      throw new Error(`${bundlePath} (handler ${f.handler} of ${f.logicalId}) does not exist. Run \`npx projen bundle\` first.`);
    }
    return {
      logicalId: f.logicalId,
      functionName: f.functionName,
      arn: f.arn,
      bundlePath,
      exportName: f.handler.slice(dot + 1),
      environment: f.environment,
      timeoutSeconds: f.timeoutSeconds,
      memorySize: f.memorySize,
    };
  });
}

/** One invocation of a function, as the harness saw it. */
export interface Invocation {
  readonly stateName: string;
  readonly logicalId: string;
  readonly event: unknown;
  readonly result?: unknown;
  readonly error?: { errorType: string; errorMessage: string };
  /** What the handler wrote through `console` during this invocation. */
  readonly logs: string[];
  /** The execution this invocation belongs to. */
  readonly executionName: string;
  /** Which call of this state in the execution it was, from 0 (loops and retries call a state again). */
  readonly attempt: number;
  /** When the handler was called (epoch milliseconds). */
  readonly startedAt: number;
  /** How long the handler ran, in milliseconds. */
  readonly durationMs: number;
}

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions {
  readonly definition: AslDefinition;
  readonly functions: LocalFunction[];
  /** Finds the function a task names (name or ARN); usually `resolver.logicalIdOf`. */
  readonly resolver: Pick<TemplateResolver, 'logicalIdOf' | 'region' | 'account'>;
  /** The execution input. */
  readonly input: unknown;
  /** Environment added to every function's: AWS_ENDPOINT_URL, credentials, NODE_EXTRA_CA_CERTS... */
  readonly awsEnv: Record<string, string>;
  /** The execution's name. Default `e2e-<time>-<random>`. */
  readonly executionName?: string;
  /** The state machine's name, for `$$.StateMachine` and the execution ARN. Default `Pipeline`. */
  readonly stateMachineName?: string;
  /** Milliseconds every Wait state waits (instead of its seconds). Default 0. */
  readonly waitMs?: number;
  /** Milliseconds before every retry (instead of the backoff). Default 0. */
  readonly retryMs?: number;
  /** Called before each task invocation: the place to change the world between steps (e.g. release a held status). */
  readonly beforeTask?: (stateName: string, event: unknown, attempt: number) => Promise<void> | void;
  /** Called after each task invocation, with its result or error: the place to report progress as it happens. */
  readonly afterTask?: (invocation: Invocation) => Promise<void> | void;
  /** Echo the handlers' console output instead of only collecting it. Default: `$E2E_VERBOSE` set. */
  readonly verbose?: boolean;
  /**
   * Stops the execution when aborted, like StopExecution: the run ends `ABORTED` once the invocation under
   * way (if any) has finished; no further state runs. Abort it from `afterTask` to stop right after a task.
   */
  readonly signal?: AbortSignal;
}

/** The outcome of a run. */
export interface PipelineRun {
  /** `ABORTED`: stopped through `signal`; `TIMED_OUT`: past the definition's `TimeoutSeconds`. */
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  readonly executionArn: string;
  readonly executionName: string;
  readonly output?: unknown;
  /** For a failed execution: the Fail state's (or the uncaught) error and cause. */
  readonly error?: { Error: string; Cause: string };
  readonly events: EventLog[];
  readonly invocations: Invocation[];
  /** The states entered, in order. */
  readonly path: string[];
}

/** Serialises invocations: handlers share `process.env` and `console`. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }
}

/** One for the whole process, so concurrent runs never swap each other's environment or console mid-invocation. */
const invocationMutex = new Mutex();

/* eslint-disable @typescript-eslint/no-require-imports -- a bundle is a CommonJS file chosen at run time */
function loadFresh(bundlePath: string): Record<string, unknown> {
  let mod: Record<string, unknown> = {};
  if (typeof jest !== 'undefined') {
    jest.isolateModules(() => {
      mod = require(bundlePath);
    });
  } else {
    useSdkLayer();
    const resolved = require.resolve(bundlePath);
    delete require.cache[resolved];
    mod = require(resolved);
    delete require.cache[resolved];
  }
  return mod;
}
/* eslint-enable @typescript-eslint/no-require-imports */

function formatLog(args: unknown[]): string {
  return args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : JSON.stringify(a))).join(' ');
}

/** The error a task raises for a handler that threw `e`, shaped like Lambda's report of it. */
export function lambdaError(e: unknown): Error & { errorType: string; errorMessage: string } {
  const err = e instanceof Error ? e : new Error(typeof e === 'string' ? e : JSON.stringify(e));
  const errorType = err.name || 'Error';
  const errorMessage = err.message;
  const trace = (err.stack ?? '').split('\n');
  const out = new Error(JSON.stringify({ errorType, errorMessage, trace })) as Error & { errorType: string; errorMessage: string };
  out.name = errorType;
  out.errorType = errorType;
  out.errorMessage = errorMessage;
  return out;
}

/** How {@link callHandler} runs a handler. */
interface CallOptions {
  readonly region: string;
  readonly awsEnv: Record<string, string>;
  readonly verbose: boolean;
  /** Loaded handlers by logical id: a warm container per function. */
  readonly modules: Map<string, (event: unknown, context: unknown) => Promise<unknown>>;
  readonly requestId: string;
}

type CallOutcome = { logs: string[]; startedAt: number; durationMs: number } & (
  { result: unknown } | { error: ReturnType<typeof lambdaError> }
);

/**
 * Calls a function's handler as Lambda would, in this process: Lambda's variables, the function's environment
 * and `awsEnv` (no other AWS_* variable) in `process.env`, console collected, the event and result round-tripped
 * through JSON; both restored afterwards. The caller holds {@link invocationMutex}.
 */
async function callHandler(fn: LocalFunction, event: unknown, options: CallOptions): Promise<CallOutcome> {
  const savedEnv = { ...process.env };
  const env: Record<string, string> = {
    AWS_REGION: options.region,
    AWS_DEFAULT_REGION: options.region,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    ...fn.environment,
    ...options.awsEnv,
  };
  for (const k of Object.keys(process.env)) {
    if (k.startsWith('AWS_')) delete process.env[k];
  }
  Object.assign(process.env, env);

  const logs: string[] = [];
  const startedAt = Date.now();
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const savedConsole = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      logs.push(formatLog(args));
      if (options.verbose) savedConsole[i].apply(console, args);
    };
  });
  try {
    let handler = options.modules.get(fn.logicalId);
    if (!handler) {
      const mod = loadFresh(fn.bundlePath);
      const exported = mod[fn.exportName];
      if (typeof exported !== 'function') throw new Error(`${fn.bundlePath} exports no function ${fn.exportName}`);
      handler = exported as (event: unknown, context: unknown) => Promise<unknown>;
      options.modules.set(fn.logicalId, handler);
    }
    const deadline = Date.now() + fn.timeoutSeconds * 1000;
    const context = {
      functionName: fn.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memorySize),
      awsRequestId: options.requestId,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      callbackWaitsForEmptyEventLoop: true,
    };
    // Round-trip through JSON like Lambda's transport, so a handler never returns something a real invoke could not.
    const result = JSON.parse(JSON.stringify((await handler(JSON.parse(JSON.stringify(event ?? null)), context)) ?? null));
    return { result, logs, startedAt, durationMs: Date.now() - startedAt };
  } catch (e) {
    return { error: lambdaError(e), logs, startedAt, durationMs: Date.now() - startedAt };
  } finally {
    methods.forEach((m, i) => {
      console[m] = savedConsole[i];
    });
    for (const k of Object.keys(process.env)) {
      if (!(k in savedEnv)) delete process.env[k];
    }
    Object.assign(process.env, savedEnv);
  }
}

/** One invocation of a function outside any execution, as {@link invokeFunction} reports it. */
export interface FunctionInvocation {
  readonly logicalId: string;
  readonly event: unknown;
  readonly result?: unknown;
  readonly error?: { errorType: string; errorMessage: string };
  /** What the handler wrote through `console`. */
  readonly logs: string[];
}

/** Options of {@link invokeFunction}. */
export interface InvokeFunctionOptions {
  /** The region Lambda runs the function in. */
  readonly region: string;
  /** Environment added to the function's: AWS_ENDPOINT_URL, credentials... */
  readonly awsEnv: Record<string, string>;
  /** Echo the handler's console output. Default: `$E2E_VERBOSE` set. */
  readonly verbose?: boolean;
}

/**
 * Invokes one function with an event, as Lambda runs an asynchronous invocation (say, an EventBridge rule's
 * target): a fresh module (a cold container), the function's environment, one invocation at a time with
 * every run's tasks. Never throws for the handler's error: see `error`.
 */
export async function invokeFunction(fn: LocalFunction, event: unknown, options: InvokeFunctionOptions): Promise<FunctionInvocation> {
  const outcome = await invocationMutex.run(() => callHandler(fn, event, {
    region: options.region,
    awsEnv: options.awsEnv,
    verbose: options.verbose ?? !!process.env.E2E_VERBOSE,
    modules: new Map(),
    requestId: `invoke-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
  }));
  return 'error' in outcome
    ? { logicalId: fn.logicalId, event, error: { errorType: outcome.error.errorType, errorMessage: outcome.error.errorMessage }, logs: outcome.logs }
    : { logicalId: fn.logicalId, event, result: outcome.result, logs: outcome.logs };
}

/** Runs the state machine once. Never throws for a failed execution: see `status` and `error`. */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineRun> {
  const { definition, resolver } = options;
  const executionName = options.executionName ?? `e2e-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const smName = options.stateMachineName ?? 'Pipeline';
  const smArn = `arn:aws:states:${resolver.region}:${resolver.account}:stateMachine:${smName}`;
  const executionArn = `arn:aws:states:${resolver.region}:${resolver.account}:execution:${smName}:${executionName}`;
  const verbose = options.verbose ?? !!process.env.E2E_VERBOSE;

  const byLogicalId = new Map(options.functions.map((f) => [f.logicalId, f]));
  const modules = new Map<string, (event: unknown, context: unknown) => Promise<unknown>>();
  const invocations: Invocation[] = [];
  const attempts = new Map<string, number>();

  const inFlight = new Set<Promise<unknown>>();
  const invoke = async (stateName: string, fn: LocalFunction, event: unknown) => {
    const done: { invocation?: Invocation } = {};
    const call = (async () => {
      try {
        return await invokeOnce(stateName, fn, event, done);
      } finally {
        // Outside the invocation: the handler's console and environment are restored.
        if (done.invocation) await options.afterTask?.(done.invocation);
      }
    })();
    inFlight.add(call);
    try {
      return await call;
    } finally {
      inFlight.delete(call);
    }
  };
  const invokeOnce = (stateName: string, fn: LocalFunction, event: unknown, done: { invocation?: Invocation }) => invocationMutex.run(async () => {
    const attempt = attempts.get(stateName) ?? 0;
    attempts.set(stateName, attempt + 1);
    await options.beforeTask?.(stateName, event, attempt);

    const outcome = await callHandler(fn, event, {
      region: resolver.region, awsEnv: options.awsEnv, verbose, modules, requestId: `${executionName}-${stateName}-${attempt}`,
    });
    const { logs, startedAt, durationMs } = outcome;
    if ('error' in outcome) {
      const err = outcome.error;
      const error = { errorType: err.errorType, errorMessage: err.errorMessage };
      done.invocation = { stateName, logicalId: fn.logicalId, event, error, logs, executionName, attempt, startedAt, durationMs };
      invocations.push(done.invocation);
      throw err;
    }
    done.invocation = { stateName, logicalId: fn.logicalId, event, result: outcome.result, logs, executionName, attempt, startedAt, durationMs };
    invocations.push(done.invocation);
    return outcome.result;
  });

  const problems = definitionProblems(definition);
  if (problems.length > 0) throw new Error(`The state machine definition cannot work:\n${problems.join('\n')}`);

  const taskResourceLocalHandlers: Record<string, (input: any) => Promise<any>> = {};
  for (const task of lambdaTasks(definition)) {
    const logicalId = options.resolver.logicalIdOf(task.functionRef, 'AWS::Lambda::Function');
    const fn = logicalId ? byLogicalId.get(logicalId) : undefined;
    if (!fn) throw new Error(`Task ${task.stateName} invokes ${task.functionRef}, which is none of the functions given to the harness`);
    taskResourceLocalHandlers[task.stateName] = task.style === 'integration'
      ? async (input: { FunctionName: string; Payload: unknown }) => ({
        Payload: await invoke(task.stateName, fn, input.Payload),
        StatusCode: 200,
        ExecutedVersion: '$LATEST',
      })
      : async (input: unknown) => invoke(task.stateName, fn, input);
  }

  const machine = new StateMachine(forLocalRun(definition) as any, { validationOptions: { checkArn: true, checkPaths: true } });
  const execution = machine.run(options.input as any, {
    overrides: {
      taskResourceLocalHandlers,
      waitTimeOverrides: Object.fromEntries(waitStates(definition).map((s) => [s, options.waitMs ?? 0])),
      retryIntervalOverrides: Object.fromEntries(retryingStates(definition).map((s) => [s, options.retryMs ?? 0])),
    },
    context: {
      Execution: { Id: executionArn, Name: executionName, RoleArn: `arn:aws:iam::${resolver.account}:role/e2e-state-machine` },
      StateMachine: { Id: smArn, Name: smName },
    } as any,
  });

  const abort = () => execution.abort();
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });

  const events: EventLog[] = [];
  const collecting = (async () => {
    for await (const ev of execution.eventLogs) events.push(ev);
  })();
  let output: unknown;
  let error: PipelineRun['error'];
  let status: PipelineRun['status'] = 'SUCCEEDED';
  try {
    output = await execution.result;
  } catch (e) {
    if (e instanceof ExecutionAbortedError) {
      status = 'ABORTED';
    } else if (e instanceof ExecutionTimeoutError) {
      status = 'TIMED_OUT';
    } else if (e instanceof ExecutionError) {
      const cause = (e as Error & { cause?: Error }).cause;
      error = { Error: cause?.name ?? 'Unknown', Cause: cause?.message ?? '' };
      status = 'FAILED';
    } else {
      throw e;
    }
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  await collecting;
  // A stopped execution settles before its task does: wait for that invocation, as Lambda finishes it anyway.
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  const pathTaken = events.filter((ev) => ev.type === 'StateEntered' && (ev as { index?: number }).index === undefined)
    .map((ev) => (ev as { state: { name: string } }).state.name);
  return {
    status,
    executionArn,
    executionName,
    output,
    error,
    events,
    invocations,
    path: pathTaken,
  };
}
