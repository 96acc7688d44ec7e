/*
 * Runs the synthesized state machine (aws-local-stepfunctions) with the real handler bundles of the wait loops on a
 * virtual clock, against the in-process fake AWS (./fake-aws.ts): what one pipeline run does, minute by minute of
 * AWS time, in milliseconds of real time.
 *
 * - Wait states take no real time: the task after a Wait moves the clock by the seconds that Wait waited (the
 *   `nextWaitSeconds` the loop's previous task returned; {@link WAIT_BEFORE_TASK}), and each Lambda task by
 *   {@link TASK_SECONDS}.
 * - The wait-loop steps run their bundles from assets/ (CopySnapshot, CheckCopyStatus, DeleteRds, RestoreSnapshot,
 *   CheckRestoreStatus). The steps outside the loops are stubbed ({@link PipelineTimeline} `stubs`): SnapshotCheck
 *   returns the state and writes the lock; SetupDbUsers (which needs a database), ArchiveSnapshot and the
 *   notifications return at once.
 * - A new wait loop (say a rename) adds its task to WAIT_BEFORE_TASK; a new fake RDS action goes into fake-aws.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as LocalStepFunctions from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { FakeAws, type RdsCall, type RdsDurations } from './fake-aws';
import type { VirtualClock } from './virtual-clock';
import { PIPELINE_CONFIG_ENV, STEP_NAMES, TABLE_KEYS, type PipelineConfig, type PipelineState } from '../../src/contracts';
import { forLocalRun, lambdaTasks, retryingStates, waitStates, type AslDefinition } from '../../test/support/asl';
import { useSdkLayer } from '../../test/support/sdk-layer';
import { functionAssetSources, TemplateResolver, templateFunctions, type CfnTemplate } from '../../test/support/template';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;

/** Virtual seconds each Lambda task takes (invoke, handler, a few AWS calls). */
export const TASK_SECONDS = 1;

/** The tasks that follow a Wait state, and where the loop's previous task put the seconds that Wait waited. */
export const WAIT_BEFORE_TASK: Record<string, (state: PipelineState) => number | undefined> = {
  [STEP_NAMES.checkCopyStatus]: (s) => s.copy?.nextWaitSeconds,
  [STEP_NAMES.deleteRds]: (s) => s.delete?.nextWaitSeconds,
  [STEP_NAMES.checkRestoreStatus]: (s) => s.restore?.nextWaitSeconds,
};

/** The steps whose real bundles run; the others are stubbed. */
export const REAL_STEPS = new Set<string>([
  STEP_NAMES.copySnapshot, STEP_NAMES.checkCopyStatus, STEP_NAMES.deleteRds, STEP_NAMES.restoreSnapshot, STEP_NAMES.checkRestoreStatus,
]);

/** Execution history events Step Functions writes per state entered, by type (a Lambda task: entered, scheduled, started, succeeded, exited). */
const EVENTS_PER_STATE: Record<string, number> = { Task: 5, Wait: 2, Choice: 2, Pass: 2, Succeed: 2, Fail: 2 };

/** One run's scenario. */
export interface RunScenario {
  /** How long the held RDS takes. A copy of 0 s means no copy (a same-region restore). */
  readonly durations: RdsDurations;
  /** The execution's name (and operation id). */
  readonly name: string;
  /** The history item to seed (`phases` of `HISTORY#<target>`), or none for a first run. */
  readonly history?: Record<string, Array<{ operationId: string; seconds: number; at: string }>>;
}

/** What one run did. */
export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly error?: string;
  /** Virtual seconds from the start to the end of the execution. */
  readonly seconds: number;
  /** Per operation: seconds between RDS finishing it and a check seeing it finished. */
  readonly lag: Record<'copy' | 'restore' | 'passwordReset', number | undefined>;
  /** States entered (Step Functions' billed state transitions). */
  readonly transitions: number;
  /** Events Step Functions would write to the execution's history. */
  readonly historyEvents: number;
  /** The RDS calls, at virtual ms since the start. */
  readonly rdsCalls: RdsCall[];
}

interface LoadedFunction {
  readonly environment: Record<string, string>;
  readonly handler: (event: unknown, context: unknown) => Promise<unknown>;
}

/* eslint-disable @typescript-eslint/no-require-imports -- a bundle is a CommonJS file chosen at run time */
function loadFresh(file: string): Record<string, unknown> {
  useSdkLayer();
  const resolved = require.resolve(file);
  delete require.cache[resolved];
  const mod = require(resolved);
  delete require.cache[resolved];
  return mod;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** One synthesized pipeline, ready to run scenarios on the fake AWS. */
export class PipelineTimeline {
  /** Loads the stack's state machine and the bundles of its wait-loop steps. */
  static fromStack(stack: Stack, fake: FakeAws, clock: VirtualClock, endpoint: string): PipelineTimeline {
    const template = Template.fromStack(stack).toJSON() as CfnTemplate;
    const resolver = new TemplateResolver(template, { region: stack.region, account: stack.account });
    const machine = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
    if (!machine) throw new Error('The stack has no state machine');
    const definition = JSON.parse(resolver.resolveString(machine[1].Properties!.DefinitionString, 'DefinitionString')) as AslDefinition;
    const sources = functionAssetSources(stack, template);
    const functions = new Map(templateFunctions(resolver).map((f) => [f.logicalId, f]));
    const byState = new Map<string, LoadedFunction>();
    for (const task of lambdaTasks(definition)) {
      if (!REAL_STEPS.has(task.stateName)) continue;
      const logicalId = resolver.logicalIdOf(task.functionRef, 'AWS::Lambda::Function');
      const fn = logicalId ? functions.get(logicalId) : undefined;
      if (!fn || !logicalId) throw new Error(`Task ${task.stateName} invokes ${task.functionRef}, not a function of the template`);
      const dot = fn.handler.lastIndexOf('.');
      const bundle = path.join(sources[logicalId], `${fn.handler.slice(0, dot)}.js`);
      if (!fs.existsSync(bundle)) throw new Error(`${bundle} does not exist: run \`npx projen bundle\` first`);
      const handler = loadFresh(bundle)[fn.handler.slice(dot + 1)] as LoadedFunction['handler'];
      byState.set(task.stateName, { environment: fn.environment, handler });
    }
    const configText = [...byState.values()][0]?.environment[PIPELINE_CONFIG_ENV];
    if (!configText) throw new Error(`No wait-loop function has ${PIPELINE_CONFIG_ENV}`);
    return new PipelineTimeline(definition, byState, JSON.parse(configText) as PipelineConfig, fake, clock, endpoint, resolver);
  }

  private readonly machine: LocalStepFunctions.StateMachine;

  private constructor(
    readonly definition: AslDefinition,
    private readonly byState: Map<string, LoadedFunction>,
    /** The handlers' configuration. */
    readonly config: PipelineConfig,
    private readonly fake: FakeAws,
    private readonly clock: VirtualClock,
    private readonly endpoint: string,
    private readonly resolver: TemplateResolver,
  ) {
    this.machine = new StateMachine(forLocalRun(definition) as any, { validationOptions: { checkArn: true, checkPaths: true } });
  }

  /** Runs one execution of `scenario`, starting at the clock's current time. */
  async run(scenario: RunScenario): Promise<RunResult> {
    const { fake, clock, config } = this;
    const table = config.stateTableName;
    const target = config.targetClusterIdentifier;
    fake.reset(scenario.durations);
    if (scenario.history) fake.putPlain(table, { [TABLE_KEYS.partitionKey]: `${TABLE_KEYS.historyPrefix}${target}`, phases: scenario.history, version: 1 });
    const start = clock.now();
    const executionArn = `arn:aws:states:${this.resolver.region}:${this.resolver.account}:execution:bench:${scenario.name}`;
    const copyRequired = scenario.durations.copySeconds > 0;

    const stubs: Record<string, (event: any) => unknown> = {
      [STEP_NAMES.snapshotCheck]: () => {
        fake.putPlain(table, {
          [TABLE_KEYS.partitionKey]: `${TABLE_KEYS.lockPrefix}${target}`,
          holder_operation_id: scenario.name,
          holder_execution_arn: executionArn,
          acquired_at: new Date().toISOString(),
        });
        const state: PipelineState = {
          operationId: scenario.name,
          executionArn,
          startedAt: new Date().toISOString(),
          sourceClusterIdentifier: config.sourceClusterIdentifier,
          sourceRegion: config.sourceRegion,
          targetClusterIdentifier: target,
          targetRegion: config.targetRegion,
          snapshot: {
            identifier: 'nightly-snapshot',
            arn: `arn:aws:rds:${config.sourceRegion}:${this.resolver.account}:cluster-snapshot:nightly-snapshot`,
            region: config.sourceRegion,
            snapshotType: 'manual',
            engine: 'aurora-postgresql',
            engineVersion: '16.4',
            storageEncrypted: true,
            createdAt: new Date().toISOString(),
          },
          copyRequired,
          replaceTarget: false,
          restoreSnapshotIdentifier: copyRequired ? 'the-copy' : 'nightly-snapshot',
        };
        return state;
      },
      [STEP_NAMES.setupDbUsers]: () => ({ usersReconciled: [] }),
      [STEP_NAMES.archiveSnapshot]: () => ({}),
    };

    const localHandlers: Record<string, (input: any) => Promise<any>> = {};
    for (const task of lambdaTasks(this.definition)) {
      const real = this.byState.get(task.stateName);
      // `lambda:invoke` passes `{ FunctionName, Payload }` and returns `{ Payload }`; a function ARN as Resource (payloadResponseOnly) passes the input itself.
      const integration = task.style === 'integration';
      localHandlers[task.stateName] = async (input: any) => {
        const event = (integration ? input.Payload : input) as PipelineState;
        const waited = WAIT_BEFORE_TASK[task.stateName]?.(event);
        if (waited !== undefined) clock.advance(waited);
        clock.advance(TASK_SECONDS);
        let payload: unknown;
        if (real) {
          const saved = { ...process.env };
          Object.assign(process.env, real.environment, {
            AWS_REGION: this.resolver.region, AWS_ENDPOINT_URL: this.endpoint, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench',
          });
          try {
            payload = JSON.parse(JSON.stringify(await real.handler(JSON.parse(JSON.stringify(event)), {})));
          } finally {
            for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
            Object.assign(process.env, saved);
          }
        } else {
          payload = stubs[task.stateName]?.(event) ?? {};
        }
        return integration ? { Payload: payload, StatusCode: 200 } : payload;
      };
    }

    const execution = this.machine.run({}, {
      overrides: {
        taskResourceLocalHandlers: localHandlers,
        waitTimeOverrides: Object.fromEntries(waitStates(this.definition).map((s) => [s, 0])),
        retryIntervalOverrides: Object.fromEntries(retryingStates(this.definition).map((s) => [s, 0])),
      },
      context: { Execution: { Id: executionArn, Name: scenario.name }, StateMachine: { Id: 'bench', Name: 'bench' } } as any,
    });
    let transitions = 0;
    let historyEvents = 2;
    const collecting = (async () => {
      for await (const ev of execution.eventLogs as AsyncGenerator<any>) {
        if (ev.type === 'StateEntered') {
          transitions++;
          historyEvents += EVENTS_PER_STATE[this.definition.States[ev.state?.name]?.Type ?? 'Pass'] ?? 2;
        } else if (ev.type === 'StateRetried') {
          historyEvents += 3;
        }
      }
    })();
    let status: RunResult['status'] = 'SUCCEEDED';
    let error: string | undefined;
    try {
      await execution.result;
    } catch (e) {
      status = 'FAILED';
      const cause = (e as { cause?: Error }).cause;
      error = `${cause?.name ?? (e as Error).name}: ${(cause?.message ?? (e as Error).message).slice(0, 300)}`;
    }
    await collecting;
    const lagOf = (k: 'copy' | 'restore' | 'passwordReset') => {
      const c = fake.completions[k];
      return c.finishedAt !== undefined && c.seenAt !== undefined ? (c.seenAt - c.finishedAt) / 1000 : undefined;
    };
    return {
      status,
      error,
      seconds: (clock.now() - start) / 1000,
      lag: { copy: lagOf('copy'), restore: lagOf('restore'), passwordReset: lagOf('passwordReset') },
      transitions,
      historyEvents,
      rdsCalls: fake.rdsCalls.map((c) => ({ action: c.action, at: c.at - start })),
    };
  }
}

export { FakeAws };
