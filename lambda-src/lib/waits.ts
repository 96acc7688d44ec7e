import { errors } from './errors';
import { WaitProgress, WaitSettings } from '../../src/contracts';

/** Seconds of the Wait after check number `attempt`: `min(max, round(poll * rate^attempt))`. */
export function nextWaitSeconds(settings: WaitSettings, attempt: number): number {
  const raw = Math.round(settings.pollIntervalSeconds * Math.pow(settings.backoffRate, attempt));
  return Math.max(1, Math.min(settings.maxPollIntervalSeconds, raw));
}

/** What a check reports, before the wait bookkeeping is added. */
export interface Observation {
  readonly done: boolean;
  readonly status: string;
  readonly percentProgress?: number;
}

/**
 * The next {@link WaitProgress} of a wait loop.
 *
 * With no `previous` (the first task of a loop) the wait starts now at attempt 0. Otherwise the attempt
 * counter goes up, the start time stays, and an unfinished operation past its budget throws
 * `OperationTimedOut`. A finished one never times out.
 *
 * @param what a description of the operation for the timeout message, e.g. `the copy of snapshot X`
 */
export function progress(
  observation: Observation,
  previous: WaitProgress | undefined,
  settings: WaitSettings,
  what: string,
  now: Date = new Date(),
): WaitProgress {
  const attempt = previous ? previous.attempt + 1 : 0;
  const waitStartedAt = previous?.waitStartedAt ?? now.toISOString();
  if (!observation.done && previous) {
    checkBudget(waitStartedAt, settings, what, observation.status, now);
  }
  return {
    done: observation.done,
    status: observation.status,
    ...(observation.percentProgress !== undefined ? { percentProgress: observation.percentProgress } : {}),
    attempt,
    waitStartedAt,
    nextWaitSeconds: nextWaitSeconds(settings, attempt),
  };
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
