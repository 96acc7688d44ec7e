import { errors } from './errors';
import { MAX_CHECKS_PER_LOOP, WAIT_BASIS, WAIT_POLICY, WaitProgress, WaitSettings } from '../../src/contracts';

/** The checks one loop may make: the configured flow's share of the execution history. */
export function checksPerLoop(settings: WaitSettings): number {
  return settings.maxChecksPerLoop ?? MAX_CHECKS_PER_LOOP;
}

/** The settings of a swap's own loops (the kept previous target's delete, the cutover, the retirement): their share of checks. */
export function swapStepSettings(settings: WaitSettings): WaitSettings {
  return { ...settings, maxChecksPerLoop: settings.maxChecksPerSwapStep ?? settings.maxChecksPerLoop };
}

/** Seconds of the Wait after check number `attempt` of a plain backoff: `min(max, round(poll * rate^attempt))`. */
export function nextWaitSeconds(settings: WaitSettings, attempt: number): number {
  const raw = Math.round(settings.pollIntervalSeconds * Math.pow(settings.backoffRate, attempt));
  return Math.max(1, Math.min(settings.maxPollIntervalSeconds, raw));
}

/**
 * The cap of the waits when nothing predicts the completion (a first run, or a phase running late):
 * {@link WAIT_POLICY.fallbackCapSeconds}, or, when that would use the loop's checks faster than its budget allows, the
 * interval that spreads the checks left evenly over the budget left; within [pollInterval, maxPollInterval]. So a long
 * operation without history is checked at an even pace to the end of its budget instead of hitting the history floor,
 * which would stretch its last waits towards maxPollInterval.
 *
 * @param attempt the check this wait follows (0 for the loop's first task)
 * @param elapsedSeconds seconds since the loop's wait began
 */
export function fallbackCapSeconds(settings: WaitSettings, attempt = 0, elapsedSeconds = 0): number {
  const checksLeft = Math.max(1, checksPerLoop(settings) - attempt - 1);
  const spread = Math.max(0, settings.budgetSeconds - elapsedSeconds) / checksLeft;
  return Math.min(settings.maxPollIntervalSeconds, Math.max(settings.pollIntervalSeconds, WAIT_POLICY.fallbackCapSeconds, spread));
}

/** What a check reports, before the wait bookkeeping is added. */
export interface Observation {
  readonly done: boolean;
  readonly status: string;
  readonly percentProgress?: number;
}

/** A phase's expected duration from the target's history (lib/phase-history.ts), in seconds. */
export interface PhaseExpectation {
  /** The median of the last runs. */
  readonly seconds: number;
  /** The shortest of them. */
  readonly earliest: number;
  /** The longest of them. */
  readonly latest: number;
}

/** What a handler knows beyond the observation, to schedule the next check. All optional. */
export interface WaitHint {
  /** The current phase's expected duration (from the phase history). Kept from the previous check when not given. */
  readonly expected?: PhaseExpectation;
  /** A new phase begins at `now` (the password reset): its expectation is `expected`, and the backoff starts again. */
  readonly restart?: boolean;
  /** Random source in [0, 1) for the jitter. Default `Math.random`; tests inject a fixed one. */
  readonly random?: () => number;
}

/** When the operation is expected to finish, in seconds from now: not before `earliest`, by `latest`. */
export interface CompletionWindow {
  readonly earliest: number;
  readonly latest: number;
  /** What the window comes from: one of {@link WAIT_BASIS}. */
  readonly basis: string;
}

/** A planned wait. */
export interface PlannedWait {
  readonly seconds: number;
  readonly basis: string;
  /** Position in the backoff of a late or unpredictable phase; undefined otherwise. */
  readonly rampStep?: number;
  /**
   * Whether the wait is a coarse one (a backoff, or an approach towards an expected window), whose exact length buys
   * nothing: it takes the wider {@link WAIT_POLICY.coarseJitter}. Waits within a window keep {@link WAIT_POLICY.jitter}.
   */
  readonly coarse?: boolean;
  /** Whether the wait is a backoff's at its cap: it takes {@link WAIT_POLICY.cappedJitter}. */
  readonly capped?: boolean;
}

/**
 * The next wait, before jitter and the history floor.
 *
 * - Completion expected (a window): until shortly (half a pollInterval) before its start, wait for it, each wait at
 *   most maxPollInterval and at most {@link WAIT_POLICY.approachFraction} of the time left until then, so that an
 *   operation quicker than every recorded run is not overshot by a long wait; within the window check every
 *   pollInterval; once past it the phase is late: back off from pollInterval to the fallback cap.
 * - Nothing known: the same backoff from pollInterval to the fallback cap.
 *
 * @param cap the fallback cap ({@link fallbackCapSeconds})
 */
export function planWait(
  settings: WaitSettings,
  rampStep: number | undefined,
  window: CompletionWindow | undefined,
  cap: number = fallbackCapSeconds(settings),
): PlannedWait {
  const poll = settings.pollIntervalSeconds;
  const backoff = (basis: string): PlannedWait => {
    const step = rampStep === undefined ? 0 : rampStep + 1;
    const ramp = poll * Math.pow(settings.backoffRate, step);
    return { seconds: Math.min(cap, ramp), basis, rampStep: step, coarse: true, ...(ramp >= cap ? { capped: true } : {}) };
  };
  if (!window) return backoff(WAIT_BASIS.backoff);
  // Start checking often a little before the earliest expected completion: half a poll, or half the spread of the
  // expectation (a run can be quicker than any recorded one).
  const approach = window.earliest - Math.max(poll / 2, (window.latest - window.earliest) / 2);
  if (approach > 0) {
    // At most approachFraction × (1 + coarseJitter) of the time left: even the longest jittered approach ends before it.
    const seconds = Math.max(poll, Math.min(settings.maxPollIntervalSeconds, approach * WAIT_POLICY.approachFraction));
    return { seconds, basis: window.basis, coarse: true };
  }
  if (window.latest >= 0) return { seconds: windowIntervalSeconds(settings, window), basis: window.basis };
  return backoff(window.basis);
}

/**
 * The interval of the checks within an expected completion window: pollInterval while the window is narrow (a few
 * checks cover it), longer for a wide one (its width over {@link WAIT_POLICY.windowChecks}), at most
 * {@link WAIT_POLICY.wideWindowFactor} × pollInterval.
 */
export function windowIntervalSeconds(settings: WaitSettings, window: CompletionWindow): number {
  const poll = settings.pollIntervalSeconds;
  const spread = (window.latest - window.earliest) / WAIT_POLICY.windowChecks;
  return Math.min(settings.maxPollIntervalSeconds, poll * WAIT_POLICY.wideWindowFactor, Math.max(poll, spread));
}

/**
 * The shortest next wait that keeps the loop within its checks ({@link checksPerLoop}) for its whole budget: the
 * checks left, at maxPollInterval, must still reach the end of the budget. Zero until the loop has used most of them.
 */
export function historyFloorSeconds(settings: WaitSettings, attempt: number, elapsedSeconds: number): number {
  const checksLeftAfterThis = checksPerLoop(settings) - attempt - 1;
  return Math.max(0, settings.budgetSeconds - elapsedSeconds - checksLeftAfterThis * settings.maxPollIntervalSeconds);
}

/**
 * `seconds` times a random factor within 1 ± {@link WAIT_POLICY.jitter}, rounded, kept within [pollInterval,
 * maxPollInterval]: pipelines started by one schedule drift apart instead of calling RDS in the same second.
 */
export function jitter(settings: WaitSettings, seconds: number, random: () => number = Math.random, spread: number = WAIT_POLICY.jitter): number {
  const factor = 1 + spread * (2 * random() - 1);
  const jittered = Math.round(seconds * factor);
  return Math.max(settings.pollIntervalSeconds, Math.min(settings.maxPollIntervalSeconds, jittered));
}

/**
 * When the operation is expected to finish. From `PercentProgress` and its rate since the phase began when RDS reports
 * progress (RDS truncates the percentage, so the window spans one percent), else from the phase's history.
 */
export function completionWindow(
  percentProgress: number | undefined,
  elapsedSeconds: number,
  expected: PhaseExpectation | undefined,
): CompletionWindow | undefined {
  if (percentProgress !== undefined && percentProgress > 0 && percentProgress < 100 && elapsedSeconds > 0) {
    const at = (p: number) => (elapsedSeconds * (100 - p)) / p;
    return { earliest: at(Math.min(100, percentProgress + 1)), latest: at(percentProgress), basis: WAIT_BASIS.progress };
  }
  if (expected && expected.seconds > 0) {
    return { earliest: expected.earliest - elapsedSeconds, latest: expected.latest - elapsedSeconds, basis: WAIT_BASIS.history };
  }
  return undefined;
}

/**
 * The next {@link WaitProgress} of a wait loop.
 *
 * With no `previous` (the first task of a loop) the wait starts now at attempt 0. Otherwise the attempt
 * counter goes up, the start time stays, and an unfinished operation past its budget throws
 * `OperationTimedOut`. A finished one never times out.
 *
 * The next wait comes from what the loop knows (see {@link planWait}): RDS's progress, the phase's history
 * (`hint.expected`, kept across checks), or a backoff; jittered, never outside [pollInterval, maxPollInterval], and
 * never so short that the loop could outgrow its share of the execution history ({@link historyFloorSeconds}).
 *
 * @param what a description of the operation for the timeout message, e.g. `the copy of snapshot X`
 * @param hint what else the handler knows; `restart` begins a new phase (the password reset)
 */
export function progress(
  observation: Observation,
  previous: WaitProgress | undefined,
  settings: WaitSettings,
  what: string,
  now: Date = new Date(),
  hint: WaitHint = {},
): WaitProgress {
  const attempt = previous ? previous.attempt + 1 : 0;
  const waitStartedAt = previous?.waitStartedAt ?? now.toISOString();
  if (!observation.done && previous) {
    checkBudget(waitStartedAt, settings, what, observation.status, now);
  }
  const checkedAt = now.toISOString();
  const phaseStartedAt = hint.restart ? checkedAt : previous?.phaseStartedAt ?? waitStartedAt;
  const expected = hint.expected ?? (hint.restart || previous?.expectedSeconds === undefined ? undefined : {
    seconds: previous.expectedSeconds,
    earliest: previous.expectedEarliestSeconds ?? previous.expectedSeconds,
    latest: previous.expectedLatestSeconds ?? previous.expectedSeconds,
  });
  const secondsSince = (iso: string) => (now.getTime() - Date.parse(iso)) / 1000;
  const window = completionWindow(hint.restart ? undefined : observation.percentProgress, secondsSince(phaseStartedAt), expected);
  const elapsed = secondsSince(waitStartedAt);
  const planned = planWait(settings, hint.restart ? undefined : previous?.rampStep, window, fallbackCapSeconds(settings, attempt, elapsed));
  const floor = historyFloorSeconds(settings, attempt, elapsed);
  const spread = planned.capped ? WAIT_POLICY.cappedJitter : planned.coarse ? WAIT_POLICY.coarseJitter : WAIT_POLICY.jitter;
  const seconds = Math.min(settings.maxPollIntervalSeconds, Math.max(floor, jitter(settings, planned.seconds, hint.random, spread)));
  return {
    done: observation.done,
    status: observation.status,
    ...(observation.percentProgress !== undefined ? { percentProgress: observation.percentProgress } : {}),
    attempt,
    waitStartedAt,
    nextWaitSeconds: Math.ceil(seconds),
    checkedAt,
    phaseStartedAt,
    ...(expected ? { expectedSeconds: expected.seconds, expectedEarliestSeconds: expected.earliest, expectedLatestSeconds: expected.latest } : {}),
    ...(planned.rampStep !== undefined ? { rampStep: planned.rampStep } : {}),
    waitBasis: planned.basis,
  };
}

/**
 * Seconds the finished phase took, for the history: from its start to the middle of the interval in which it finished
 * (between the last unfinished check and `now`), so the lag of the detecting check does not stretch the next estimate.
 */
export function phaseSeconds(previous: WaitProgress | undefined, now: Date): number | undefined {
  if (!previous) return undefined;
  const started = Date.parse(previous.phaseStartedAt ?? previous.waitStartedAt);
  const lastOpen = Date.parse(previous.checkedAt ?? previous.phaseStartedAt ?? previous.waitStartedAt);
  if (Number.isNaN(started) || Number.isNaN(lastOpen)) return undefined;
  const finished = (lastOpen + now.getTime()) / 2;
  return Math.max(0, Math.round((finished - started) / 1000));
}

/** Throws `OperationTimedOut` once more than `budgetSeconds` have passed since `waitStartedAt`. */
export function checkBudget(waitStartedAt: string, settings: WaitSettings, what: string, status: string, now: Date = new Date()): void {
  const started = Date.parse(waitStartedAt);
  if (Number.isNaN(started)) {
    throw errors.invalidInput(`The wait for ${what} has an invalid start time '${waitStartedAt}'. The state was altered; start the restore again.`);
  }
  const elapsed = Math.round((now.getTime() - started) / 1000);
  if (elapsed > settings.budgetSeconds) {
    throw errors.operationTimedOut(
      `Waited ${elapsed}s for ${what}, over the budget of ${settings.budgetSeconds}s (last status '${status}', waiting since ${waitStartedAt}). `
      + 'Check the resource in the RDS console: if it is still progressing, raise the pipeline\'s waitBudget prop and start the restore again; if it is stuck, fix or delete it first.',
    );
  }
}
