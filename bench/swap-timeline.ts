/**
 * How long the target is unavailable, and how many state transitions a run takes, with ReplaceStrategy.SWAP and
 * DELETE_FIRST over an existing target, on one simulated timeline: the synthesized state machine (each strategy's
 * own definition) run by aws-local-stepfunctions, every task a stand-in that answers as RDS would on a virtual clock
 * and reports the wait-loop progress the real handlers report (lib/waits, default settings). Wait states take no
 * real time; their seconds move the virtual clock.
 *
 * The timeline: a restore takes 60 minutes, each RDS rename 60 s, the master password reset 60 s, a cluster delete
 * (final snapshot, instances, cluster) 10 minutes, every Lambda invocation 1 s; same region (no copy); no previous
 * target kept from an earlier swap. targetUnavailableSeconds is measured as the handlers measure it: SWAP from the
 * first rename request until a check finds the new cluster available under the target's identifier; DELETE_FIRST
 * from the delete's first check until a check finds the restored cluster ready.
 *
 * Run: `npx projen bench:swap`.
 */
import { Template } from 'aws-cdk-lib/assertions';
import type * as LocalStepFunctions from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { nextWaitSeconds } from '../lambda-src/lib/waits';
import { ReplaceStrategy, STEP_NAMES, WaitSettings } from '../src/contracts';
import { TIMING_DEFAULTS } from '../src/validation';
import { definitionOf } from '../test/construct/definition';
import { defaultStack } from '../test/construct/stacks';
import { forLocalRun, retryingStates, waitStates } from '../test/support/asl';

// aws-local-stepfunctions needs Promise.withResolvers (Node >= 22).
const P = Promise as unknown as { withResolvers?: () => unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = () => {
    let resolve!: (v: unknown) => void; let reject!: (e: unknown) => void;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;

const RESTORE_SECONDS = 60 * 60;
const RENAME_SECONDS = 60;
const PASSWORD_RESET_SECONDS = 60;
const DELETE_SECONDS = 10 * 60;
const INVOCATION_SECONDS = 1;
/**
 * The construct's default pollInterval, backoff and maxPollInterval, as a plain backoff: this timeline is about how
 * long the target is unavailable, not about the waits' estimates (`npx projen bench:detection` runs the real ones).
 */
const WAITS: WaitSettings = {
  pollIntervalSeconds: TIMING_DEFAULTS.pollInterval.toSeconds(),
  backoffRate: TIMING_DEFAULTS.pollBackoffRate,
  maxPollIntervalSeconds: TIMING_DEFAULTS.maxPollInterval.toSeconds(),
  budgetSeconds: TIMING_DEFAULTS.waitBudget.toSeconds(),
};

interface Outcome {
  readonly strategy: ReplaceStrategy;
  readonly targetUnavailableSeconds: number;
  readonly totalSeconds: number;
  readonly transitions: number;
  readonly timeline: string[];
}

/** A wait loop's progress, as lib/waits reports it. */
function progress(done: boolean, status: string, previous: { attempt: number } | undefined) {
  const attempt = previous ? previous.attempt + 1 : 0;
  return { done, status, attempt, nextWaitSeconds: nextWaitSeconds(WAITS, attempt) };
}

async function simulate(strategy: ReplaceStrategy): Promise<Outcome> {
  const asl = definitionOf(Template.fromStack(defaultStack({ replaceStrategy: strategy }).stack));
  const swap = strategy === ReplaceStrategy.SWAP;
  let t = 0; // virtual seconds since the start
  let pendingWait = 0; // the Wait the last unfinished loop step asked for, taken before the next task
  const timeline: string[] = [];
  const mark = (what: string) => timeline.push(`${fmt(t)}  ${what}`);
  const at: Record<string, number> = {};
  let unavailable = 0;

  const task = (body: (input: any) => any) => async (input: any) => {
    t += pendingWait;
    pendingWait = 0;
    t += INVOCATION_SECONDS;
    const out = body(input);
    if (out && typeof out === 'object' && out.done === false) pendingWait = out.nextWaitSeconds;
    return out;
  };
  const state = (input: any) => input.state ?? input;
  const handlers: Record<string, (input: any) => Promise<unknown>> = {
    [STEP_NAMES.snapshotCheck]: task(() => ({ operationId: 'bench', replaceTarget: true, swap, copyRequired: false })),
    [STEP_NAMES.deleteRds]: task((s) => {
      if (at.deleteStart === undefined) { at.deleteStart = t; mark('DeleteRds: target deleted (unavailable from here)'); }
      const done = t >= at.deleteStart + DELETE_SECONDS;
      return progress(done, done ? 'deleted' : 'deleting', s.delete);
    }),
    [STEP_NAMES.restoreSnapshot]: task(() => {
      at.restoreStart = t;
      mark(`RestoreSnapshot: restore requested${swap ? ' beside the target (arp-tmp-…)' : ''}`);
      return progress(false, 'creating', undefined);
    }),
    [STEP_NAMES.checkRestoreStatus]: task((s) => {
      if (t < at.restoreStart + RESTORE_SECONDS) return progress(false, 'creating', s.restore);
      if (at.resetRequested === undefined) { at.resetRequested = t; return progress(false, 'resetting-master-password', s.restore); }
      const done = t >= at.resetRequested + PASSWORD_RESET_SECONDS;
      if (done) {
        mark('CheckRestoreStatus: restored cluster ready');
        if (!swap) unavailable = t - at.deleteStart;
      }
      return progress(done, done ? 'available' : 'resetting-master-password', s.restore);
    }),
    [STEP_NAMES.setupDbUsers]: task(() => ({ created: [], updated: [], databases: [], disabledLogins: [], revokedMemberships: [] })),
    [STEP_NAMES.validateRestore]: task(() => ({ passed: 2, checks: ['built-in:master-login', 'built-in:database:postgres'] })),
    [STEP_NAMES.deleteKeptPrevious]: task(() => ({ ...progress(true, 'absent', undefined), targetExisted: false })),
    [STEP_NAMES.cutover]: task((s) => {
      if (at.firstRename === undefined) { at.firstRename = t; mark('Cutover: target renamed away (unavailable from here)'); return progress(false, 'renaming', undefined); }
      if (at.secondRename === undefined) {
        if (t < at.firstRename + RENAME_SECONDS) return progress(false, 'renaming', s.cutover);
        at.secondRename = t;
        mark('Cutover: new cluster renamed to the target identifier');
        return progress(false, 'renaming', s.cutover);
      }
      const done = t >= at.secondRename + RENAME_SECONDS;
      if (done) { unavailable = t - at.firstRename; mark('Cutover: target identifier available again, new data'); }
      return progress(done, done ? 'available' : 'renaming', s.cutover);
    }),
    [STEP_NAMES.retirePrevious]: task((input) => {
      const s = state(input);
      if (at.retireStart === undefined) at.retireStart = t;
      const done = t >= at.retireStart + DELETE_SECONDS;
      if (done) mark('RetirePreviousTarget: previous target deleted (final snapshot)');
      return { ...progress(done, done ? 'deleted' : 'deleting', s.retire), targetExisted: true };
    }),
    [STEP_NAMES.archiveSnapshot]: task(() => ({ action: 'none' })),
    NotifySuccess: task(() => { mark('NotifySuccess'); return {}; }),
    NotifyFailure: task(() => ({})),
  };

  const machine = new StateMachine(forLocalRun(asl) as any, { validationOptions: { checkArn: true, checkPaths: true } });
  const execution = machine.run({}, {
    overrides: {
      taskResourceLocalHandlers: handlers as any,
      waitTimeOverrides: Object.fromEntries(waitStates(asl).map((w) => [w, 0])),
      retryIntervalOverrides: Object.fromEntries(retryingStates(asl).map((r) => [r, 0])),
    },
    context: { Execution: { Id: 'arn:aws:states:eu-west-1:123456789012:execution:sm:bench', Name: 'bench', StartTime: '2026-12-04T00:00:00Z' } } as any,
  });
  let transitions = 0;
  const counting = (async () => {
    for await (const e of execution.eventLogs) if ((e as { type: string }).type === 'StateEntered') transitions++;
  })();
  await execution.result;
  await counting;
  return { strategy, targetUnavailableSeconds: unavailable, totalSeconds: t, transitions, timeline };
}

function fmt(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

async function main(): Promise<void> {
  console.log(`Timeline: restore ${RESTORE_SECONDS / 60} min, renames ${RENAME_SECONDS} s each, password reset ${PASSWORD_RESET_SECONDS} s, `
    + `delete ${DELETE_SECONDS / 60} min, ${INVOCATION_SECONDS} s per Lambda invocation; waits ${WAITS.pollIntervalSeconds} s ×${WAITS.backoffRate} up to ${WAITS.maxPollIntervalSeconds} s.\n`);
  const outcomes = [await simulate(ReplaceStrategy.SWAP), await simulate(ReplaceStrategy.DELETE_FIRST)];
  for (const o of outcomes) {
    console.log(`${o.strategy}`);
    for (const line of o.timeline) console.log(`  ${line}`);
    console.log();
  }
  console.log('| strategy | targetUnavailableSeconds | run time | state transitions |');
  console.log('| --- | --- | --- | --- |');
  for (const o of outcomes) console.log(`| ${o.strategy} | ${o.targetUnavailableSeconds} | ${fmt(o.totalSeconds)} | ${o.transitions} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
