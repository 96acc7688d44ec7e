/*
 * The wait rules of lambda-src/lib/waits.ts and the phase history (lambda-src/lib/phase-history.ts), on fixed clocks
 * and a fixed random source.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, DynamoDBDocumentClient, resetBetweenTests } from './support/factories';
import { expectationOf, expectedPhase, historyKey, PhaseRecord, recordPhase } from '../../lambda-src/lib/phase-history';
import { fallbackCapSeconds, historyFloorSeconds, jitter, nextWaitSeconds, phaseSeconds, progress, swapStepSettings, WaitHint, windowIntervalSeconds } from '../../lambda-src/lib/waits';
import {
  checkShares, MAX_CHECKS_PER_LOOP, PipelineErrorName, PreviousTargetRetention, ReplaceStrategy, WAIT_BASIS, WAIT_POLICY, waitLoopsPerExecution,
  WaitProgress, WaitSettings,
} from '../../src/contracts';

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
resetBetweenTests(rdsMock, ddbMock);

const settings: WaitSettings = { pollIntervalSeconds: 30, maxPollIntervalSeconds: 300, backoffRate: 1.5, budgetSeconds: 26 * 3600 };
const T0 = Date.parse('2026-12-01T02:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const noJitter: WaitHint = { random: () => 0.5 };
const expect1800 = { seconds: 1800, earliest: 1800, latest: 1800 };

/** Runs a loop of checks on a virtual clock: `observe(t)` says what RDS reports at t; returns the waits and when it saw done. */
function loop(observe: (t: number) => { done: boolean; status?: string; percentProgress?: number }, hint: WaitHint = {}, s = settings) {
  const waits: number[] = [];
  let t = 0;
  let state: WaitProgress = progress({ done: false, status: 'creating' }, undefined, s, 'x', at(0), { ...noJitter, ...hint });
  while (!state.done) {
    waits.push(state.nextWaitSeconds);
    t += state.nextWaitSeconds;
    const o = observe(t);
    state = progress({ status: 'creating', ...o }, state, s, 'x', at(t), noJitter);
  }
  return { waits, seenAt: t };
}

describe('waits', () => {
  test('the plain backoff formula is still min(max, round(poll * rate^attempt))', () => {
    expect([0, 1, 2, 3, 4, 10].map((a) => nextWaitSeconds({ ...settings, backoffRate: 2 }, a))).toEqual([30, 60, 120, 240, 300, 300]);
  });

  test('the first task starts the wait; checks keep its start and count attempts; a finished one never times out', () => {
    const first = progress({ done: false, status: 'creating' }, undefined, { ...settings, budgetSeconds: 600 }, 'x', at(0), noJitter);
    expect(first).toEqual({
      done: false,
      status: 'creating',
      attempt: 0,
      waitStartedAt: at(0).toISOString(),
      nextWaitSeconds: 30,
      checkedAt: at(0).toISOString(),
      phaseStartedAt: at(0).toISOString(),
      rampStep: 0,
      waitBasis: 'backoff',
    });
    const later = progress({ done: false, status: 'copying' }, first, { ...settings, budgetSeconds: 600 }, 'x', at(30), noJitter);
    expect(later).toMatchObject({ attempt: 1, waitStartedAt: first.waitStartedAt, checkedAt: at(30).toISOString() });
    expect(() => progress({ done: false, status: 'copying' }, first, { ...settings, budgetSeconds: 600 }, 'the copy of s', at(601)))
      .toThrow(expect.objectContaining({ name: PipelineErrorName.OPERATION_TIMED_OUT, message: expect.stringContaining('Waited 601s for the copy of s, over the budget of 600s') }));
    expect(progress({ done: true, status: 'available' }, first, { ...settings, budgetSeconds: 600 }, 'x', at(601)).done).toBe(true);
  });

  test('fallback: with nothing to go on, waits back off from pollInterval to the fallback cap (90 s), not to maxPollInterval', () => {
    const short = { ...settings, budgetSeconds: 12 * 3600 };
    const { waits } = loop((t) => ({ done: t >= 3600 }), {}, short);
    expect(waits.slice(0, 6)).toEqual([30, 45, 68, 90, 90, 90]);
    expect(Math.max(...waits)).toBe(90);
    expect(fallbackCapSeconds(short)).toBe(90);
    // The cap stays within [poll, max].
    expect(fallbackCapSeconds({ ...short, maxPollIntervalSeconds: 60 })).toBe(60);
    expect(fallbackCapSeconds({ ...short, pollIntervalSeconds: 200 })).toBe(200);
  });

  test('fallback cap: grows with the time waited so the checks left spread evenly over the budget left', () => {
    // 26 h over 913 checks left: 102.5 s from the start, not 90.
    expect(fallbackCapSeconds(settings, 0, 0)).toBeCloseTo((26 * 3600) / (MAX_CHECKS_PER_LOOP - 1), 5);
    // A loop that used its checks faster than that (the ramp, a late phase) spreads the rest wider.
    expect(fallbackCapSeconds(settings, 500, 10 * 3600)).toBeCloseTo((16 * 3600) / (MAX_CHECKS_PER_LOOP - 501), 5);
    expect(fallbackCapSeconds(settings, MAX_CHECKS_PER_LOOP - 10, 20 * 3600)).toBe(300);
    expect(fallbackCapSeconds(settings, 0, 30 * 3600)).toBe(90);
    const { waits } = loop((t) => ({ done: t >= 3600 }));
    expect(waits.slice(0, 6)).toEqual([30, 45, 68, 101, 103, 103]);
  });

  test('fallback cap: a 24-hour operation without history is checked at an even pace to its end, never near maxPollInterval', () => {
    const { waits, seenAt } = loop((t) => ({ done: t >= 24 * 3600 }));
    // With a fixed 90 s cap it would need 960 checks, over the loop's 914: the history floor would stretch the last
    // waits towards 300 s. Spread evenly, the last waits are as short as the first long ones.
    expect(waits.length).toBeLessThan(MAX_CHECKS_PER_LOOP);
    expect(Math.max(...waits)).toBeLessThanOrEqual(110);
    expect(Math.min(...waits.slice(-50))).toBeGreaterThanOrEqual(100);
    expect(seenAt - 24 * 3600).toBeLessThanOrEqual(110);
  });

  test('ETA from progress: extrapolates PercentProgress and its rate, checks shortly before, then at a short interval', () => {
    // A copy of 2 h, progressing linearly.
    const { waits, seenAt } = loop((t) => ({ done: t >= 7200, percentProgress: Math.min(99, Math.floor((t / 7200) * 100)) }));
    // Until RDS reports progress the loop backs off; then long waits at maxPollInterval.
    expect(waits.slice(0, 2)).toEqual([30, 45]);
    expect(waits.filter((w) => w === 300).length).toBeGreaterThan(15);
    expect(seenAt - 7200).toBeLessThanOrEqual(30);
    expect(waits.length).toBeLessThan(7200 / 60 / 3);
  });

  test('ETA from history: waits until shortly before the expected completion, then checks at pollInterval', () => {
    // Restore expected to take 30 min (history); it does.
    const { waits, seenAt } = loop((t) => ({ done: t >= 1800 }), { expected: expect1800 });
    expect(waits.slice(0, 3)).toEqual([300, 300, 300]);
    // Then each wait at most half the time left until 15 s before the expected end, at least pollInterval.
    let t = 900;
    for (const w of waits.slice(3, -1)) {
      expect(w).toBe(Math.max(30, Math.round(Math.min(300, (1785 - t) / 2))));
      t += w;
    }
    expect(seenAt - 1800).toBeLessThanOrEqual(30);
    expect(waits.length).toBeLessThan(15);
  });

  test('ETA from history: an operation quicker than every recorded run is found within a fraction of how early it was', () => {
    // Recorded: 3000-4200 s, so the checks become frequent 600 s before 3000, at 2400 s.
    const expected = { seconds: 3600, earliest: 3000, latest: 4200 };
    // Finished at 2200 s: waits of 300 s all the way would find it at 2400 s; halving the waits near 2400 s finds it
    // within half of how early it was.
    const early = loop((t) => ({ done: t >= 2200 }), { expected });
    expect(early.seenAt - 2200).toBeLessThanOrEqual(100);
    // Far from the window the waits stay at maxPollInterval.
    expect(early.waits.slice(0, 6)).toEqual([300, 300, 300, 300, 300, 300]);
    const justBefore = loop((t) => ({ done: t >= 2350 }), { expected });
    expect(justBefore.seenAt - 2350).toBeLessThanOrEqual(30);
  });

  test('ETA from history, running late: the short waits grow to the fallback cap, never to maxPollInterval', () => {
    const s = { ...settings, budgetSeconds: 12 * 3600 };
    const { waits } = loop((t) => ({ done: t >= 1800 + 1000 }), { expected: expect1800 }, s);
    const late = waits.slice(waits.lastIndexOf(30) + 1);
    expect(late.slice(0, 4)).toEqual([45, 68, 90, 90]);
    expect(Math.max(...late)).toBe(90);
  });

  test('ETA from history with spread: waits until shortly before the shortest run, checks through the window until the longest, then backs off', () => {
    // A wide window (1200 s, 40 pollIntervals): checked every 2 × pollInterval, not every pollInterval.
    const expected = { seconds: 3600, earliest: 3000, latest: 4200 };
    const { waits, seenAt } = loop((t) => ({ done: t >= 4000 }), { expected });
    // Until half the spread (600 s) before the earliest, in waits of at most 300 s and half the time left (the last
    // ones pollInterval); from 2400 s on every 60 s.
    const from = (t: number) => waits.findIndex((_w, i) => waits.slice(0, i).reduce((a, b) => a + b, 0) >= t);
    expect(waits.slice(0, from(2400)).every((w) => w <= 300)).toBe(true);
    expect(new Set(waits.slice(from(2400)))).toEqual(new Set([60]));
    expect(seenAt - 4000).toBeLessThan(60);
    const late = loop((t) => ({ done: t >= 4600 }), { expected }, { ...settings, budgetSeconds: 12 * 3600 });
    const afterWindow = late.waits.slice(late.waits.lastIndexOf(60) + 1);
    // Late: the backoff starts again from pollInterval.
    expect(afterWindow.slice(0, 6)).toEqual([30, 45, 68, 90, 90, 90]);
  });

  test('completion window: a narrow one is checked every pollInterval, a wider one less often, at most 2 × pollInterval', () => {
    const win = (width: number) => ({ earliest: -1, latest: width - 1, basis: WAIT_BASIS.history });
    // Up to four pollIntervals wide: pollInterval.
    expect(windowIntervalSeconds(settings, win(60))).toBe(30);
    expect(windowIntervalSeconds(settings, win(120))).toBe(30);
    // Wider: width / 4, up to 2 × pollInterval.
    expect(windowIntervalSeconds(settings, win(180))).toBe(45);
    expect(windowIntervalSeconds(settings, win(3600))).toBe(60);
    // Never above maxPollInterval.
    expect(windowIntervalSeconds({ ...settings, maxPollIntervalSeconds: 40 }, win(3600))).toBe(40);
    // A narrow window (a 10-minute phase recorded within 40 s): the checks in it come every pollInterval.
    const narrow = loop((t) => ({ done: t >= 605 }), { expected: { seconds: 600, earliest: 580, latest: 620 } });
    expect(narrow.waits.slice(-2)).toEqual([30, 30]);
    expect(narrow.seenAt - 605).toBeLessThan(30);
  });

  test('history floor: a loop that used most of its checks waits longer, so the rest reach the end of its budget at maxPollInterval', () => {
    const s = { ...settings, budgetSeconds: 26 * 3600 };
    expect(historyFloorSeconds(s, 0, 0)).toBe(0);
    expect(historyFloorSeconds(s, 600, 3600)).toBe(0);
    const attempt = MAX_CHECKS_PER_LOOP - 100;
    // 99 checks left at 300 s cover 29,700 s; 20 h remain.
    expect(historyFloorSeconds(s, attempt, 6 * 3600)).toBe(20 * 3600 - 99 * 300);
    const prev = { ...progress({ done: false, status: 'x' }, undefined, s, 'x', at(0), noJitter), attempt: attempt - 1 };
    expect(progress({ done: false, status: 'x' }, prev, s, 'x', at(6 * 3600), noJitter).nextWaitSeconds).toBe(300);
    // Every loop at its limit fits the history.
    const events = MAX_CHECKS_PER_LOOP * WAIT_POLICY.eventsPerCheck * WAIT_POLICY.loopsPerExecution + WAIT_POLICY.eventsOutsideLoops;
    expect(events).toBeLessThanOrEqual(25_000);
  });

  test('checks per loop: a swap\'s own loops get what covers their budget at maxPollInterval, the copy and the restore the rest', () => {
    const shares = checkShares(waitLoopsPerExecution(ReplaceStrategy.SWAP, PreviousTargetRetention.DELETE), 26 * 3600, 300);
    expect(shares).toEqual({ mainLoops: 2, checksPerLoop: 812, swapStepLoops: 3, checksPerSwapStep: 373 });
    const keep = checkShares(waitLoopsPerExecution(ReplaceStrategy.SWAP, PreviousTargetRetention.KEEP), 26 * 3600, 300);
    expect(keep).toMatchObject({ checksPerLoop: 999, swapStepLoops: 2 });
    expect(checkShares(waitLoopsPerExecution(ReplaceStrategy.DELETE_FIRST, PreviousTargetRetention.DELETE), 26 * 3600, 300))
      .toEqual({ mainLoops: 3, checksPerLoop: MAX_CHECKS_PER_LOOP, swapStepLoops: 0, checksPerSwapStep: 0 });
    // Every loop of a swap at its limit fits the history (with the old count, five loops of 914 checks would not).
    expect(WAIT_POLICY.eventsPerCheck * (2 * 812 + 3 * 373) + WAIT_POLICY.eventsOutsideLoops).toBeLessThanOrEqual(25_000);
    expect(WAIT_POLICY.eventsPerCheck * 5 * MAX_CHECKS_PER_LOOP + WAIT_POLICY.eventsOutsideLoops).toBeGreaterThan(25_000);

    const swap: WaitSettings = { ...settings, budgetSeconds: 26 * 3600, maxChecksPerLoop: 812, maxChecksPerSwapStep: 373 };
    // The copy and the restore: 26 h over 811 checks left, 115.4 s from the start (102.5 s for DELETE_FIRST).
    expect(fallbackCapSeconds(swap, 0, 0)).toBeCloseTo((26 * 3600) / 811, 5);
    // A swap's own loop: 373 checks, 60 more than cover the budget at maxPollInterval; its floor rises after 60 quick ones.
    const step = swapStepSettings(swap);
    expect(step.maxChecksPerLoop).toBe(373);
    expect(swapStepSettings(settings).maxChecksPerLoop).toBe(settings.maxChecksPerLoop);
    expect(historyFloorSeconds(step, 273, 6 * 3600)).toBe(20 * 3600 - 99 * 300);
    expect(historyFloorSeconds(swap, 273, 6 * 3600)).toBe(0);
    expect(historyFloorSeconds(step, 59, 20 * 59)).toBe(0);
    // A 24-hour restore without history stays within its share.
    const { waits } = loop((t) => ({ done: t >= 24 * 3600 }), {}, swap);
    expect(waits.length).toBeLessThan(812);
    // A rename without history is still found by the ramp from pollInterval, whatever the share.
    expect(loop((t) => ({ done: t >= 60 }), {}, step).waits.slice(0, 2)).toEqual([30, 45]);
  });

  test('caps: never longer than maxPollInterval, never shorter than pollInterval, whatever the estimate', () => {
    const far = progress({ done: false, status: 'copying', percentProgress: 1 }, { ...progress({ done: false, status: 'copying' }, undefined, settings, 'x', at(0)), rampStep: undefined }, settings, 'x', at(3600), noJitter);
    expect(far.nextWaitSeconds).toBe(300);
    const overdue = progress({ done: false, status: 'x' }, undefined, settings, 'x', at(0), { expected: { seconds: 1, earliest: 1, latest: 1 }, random: () => 0 });
    expect(overdue.nextWaitSeconds).toBe(30);
  });

  test('jitter: within ±3 % of the planned wait by default, kept within [pollInterval, maxPollInterval], deterministic for a given random source', () => {
    expect(jitter(settings, 200, () => 0)).toBe(194);
    expect(jitter(settings, 200, () => 0.999999)).toBe(206);
    expect(jitter(settings, 200, () => 0.5)).toBe(200);
    expect(jitter(settings, 300, () => 0.999999)).toBe(300);
    expect(jitter(settings, 30, () => 0)).toBe(30);
    for (let i = 0; i < 200; i++) {
      const r = i / 200;
      const w = jitter(settings, 150, () => r);
      expect(w).toBeGreaterThanOrEqual(Math.floor(150 * (1 - WAIT_POLICY.jitter)));
      expect(w).toBeLessThanOrEqual(Math.ceil(150 * (1 + WAIT_POLICY.jitter)));
    }
    // A wider spread when asked (the coarse waits).
    expect(jitter(settings, 200, () => 0, WAIT_POLICY.coarseJitter)).toBe(150);
    expect(jitter(settings, 200, () => 0.999999, WAIT_POLICY.coarseJitter)).toBe(250);
  });

  test('jitter: ±25 % on the coarse waits (a backoff, an approach towards a window), ±3 % within a window', () => {
    const low = { random: () => 0 };
    const high = { random: () => 0.999999 };
    // A first run's backoff: 30 s planned (pollInterval), then 45 s.
    const first = progress({ done: false, status: 'x' }, undefined, settings, 'x', at(0), low);
    expect(first).toMatchObject({ waitBasis: 'backoff', nextWaitSeconds: 30 }); // 22.5 s, kept at pollInterval
    const second = progress({ done: false, status: 'x' }, { ...first, rampStep: 0 }, settings, 'x', at(30), high);
    expect(second).toMatchObject({ waitBasis: 'backoff', nextWaitSeconds: 56 }); // 45 s × 1.25
    // An approach: expected in 3600 s (window 3000-4200): half of the 2400 s until the checks become frequent, capped
    // at 300 s; ±25 %, never above maxPollInterval.
    const expected = { seconds: 3600, earliest: 3000, latest: 4200 };
    const approach = (t: number, hint: WaitHint) => progress({ done: false, status: 'x' }, undefined, settings, 'x', at(t), { ...hint, expected });
    expect(approach(0, low).nextWaitSeconds).toBe(225);
    expect(approach(0, high).nextWaitSeconds).toBe(300);
    // Close to the window: 200 s left until 2400 s, half of it 100 s: 75 to 125 s, always before the window.
    const near = (hint: WaitHint) => progress({ done: false, status: 'x' }, { ...approach(0, noJitter), waitStartedAt: at(0).toISOString() }, settings, 'x', at(2200), hint);
    expect(near(low).nextWaitSeconds).toBe(75);
    expect(near(high).nextWaitSeconds).toBe(125);
    // Within the window (2400-4200 s, checked every 60 s): ±3 % only.
    const within = (hint: WaitHint) => progress({ done: false, status: 'x' }, { ...approach(0, noJitter), waitStartedAt: at(0).toISOString() }, settings, 'x', at(3000), hint);
    expect(within(low).nextWaitSeconds).toBe(58);
    expect(within(high).nextWaitSeconds).toBe(62);
  });

  test('jitter: ±50 % once a backoff reaches its cap (a fleet started together spreads over it), ±25 % on the ramp', () => {
    const low = { random: () => 0 };
    const high = { random: () => 0.999999 };
    // A one-hour budget: the cap is the fallback's 90 s (a long budget raises it to spread the loop's checks over it).
    const hour = { ...settings, budgetSeconds: 3600 };
    const cap = fallbackCapSeconds(hour);
    expect(cap).toBe(90);
    // The ramp: 30, 45, 67.5 s planned (rate 1.5), ±25 %, never below pollInterval.
    const ramp: WaitProgress = { ...progress({ done: false, status: 'x' }, undefined, hour, 'x', at(0), noJitter), rampStep: 1 };
    expect(progress({ done: false, status: 'x' }, ramp, hour, 'x', at(75), low)).toMatchObject({ rampStep: 2, nextWaitSeconds: 51 }); // 67.5 × 0.75
    expect(progress({ done: false, status: 'x' }, ramp, hour, 'x', at(75), high)).toMatchObject({ rampStep: 2, nextWaitSeconds: 84 }); // 67.5 × 1.25
    // At the cap (101.25 s planned, 90 s kept): 45 to 135 s.
    const capped: WaitProgress = { ...ramp, rampStep: 2 };
    const lowest = progress({ done: false, status: 'x' }, capped, hour, 'x', at(150), low);
    const highest = progress({ done: false, status: 'x' }, capped, hour, 'x', at(150), high);
    expect([lowest.nextWaitSeconds, highest.nextWaitSeconds]).toEqual([cap * (1 - WAIT_POLICY.cappedJitter), cap * (1 + WAIT_POLICY.cappedJitter)]);
    expect([lowest.waitBasis, lowest.rampStep]).toEqual(['backoff', 3]);
    // Never outside [pollInterval, maxPollInterval], whatever the spread.
    for (let i = 0; i <= 100; i++) {
      const w = progress({ done: false, status: 'x' }, { ...capped, rampStep: 20 }, hour, 'x', at(150), { random: () => i / 101 }).nextWaitSeconds;
      expect(w).toBeGreaterThanOrEqual(Math.floor(cap * (1 - WAIT_POLICY.cappedJitter)));
      expect(w).toBeLessThanOrEqual(Math.ceil(cap * (1 + WAIT_POLICY.cappedJitter)));
    }
    const tight = { ...hour, maxPollIntervalSeconds: 100 };
    expect(progress({ done: false, status: 'x' }, capped, tight, 'x', at(150), high).nextWaitSeconds).toBe(100);
    // A phase running late past its expected window backs off to the same cap, with the same spread once there.
    const late = progress({ done: false, status: 'x' }, { ...capped, rampStep: 9, expectedSeconds: 60, expectedEarliestSeconds: 50, expectedLatestSeconds: 70 }, hour, 'x', at(900), low);
    expect(late).toMatchObject({ waitBasis: 'history', nextWaitSeconds: 45 });
  });

  test('password reset: restarts from the short interval (or its own expected duration), not the restore\'s long waits', () => {
    const before: WaitProgress = { ...progress({ done: false, status: 'creating' }, undefined, settings, 'x', at(0), { expected: expect1800 }), rampStep: 6, attempt: 40 };
    const reset = progress({ done: false, status: 'resetting-master-password' }, before, settings, 'x', at(1815), { ...noJitter, restart: true });
    expect(reset).toMatchObject({ nextWaitSeconds: 30, phaseStartedAt: at(1815).toISOString(), waitBasis: 'backoff', rampStep: 0 });
    expect(reset.expectedSeconds).toBeUndefined();
    const withHistory = progress({ done: false, status: 'resetting-master-password' }, before, settings, 'x', at(1815), { ...noJitter, restart: true, expected: { seconds: 60, earliest: 60, latest: 60 } });
    // Expected in 60 s: checks become frequent 15 s before; half the 45 s until then is below pollInterval.
    expect(withHistory).toMatchObject({ nextWaitSeconds: 30, waitBasis: 'history', expectedSeconds: 60 });
  });

  test('a finished phase lasted until the middle of the interval in which it finished', () => {
    const prev = { ...progress({ done: false, status: 'x' }, undefined, settings, 'x', at(0)), checkedAt: at(100).toISOString() };
    expect(phaseSeconds(prev, at(160))).toBe(130);
    expect(phaseSeconds(undefined, at(160))).toBeUndefined();
    expect(phaseSeconds({ ...prev, phaseStartedAt: 'garbage' }, at(160))).toBeUndefined();
  });
});

describe('phase history', () => {
  const records = (...seconds: number[]): PhaseRecord[] => seconds.map((s, i) => ({ operationId: `op-${i}`, seconds: s, at: at(i).toISOString() }));

  test('the expectation is the median of the last five, with their shortest and longest', () => {
    expect(expectationOf([])).toBeUndefined();
    expect(expectationOf(records(100))).toEqual({ seconds: 100, earliest: 100, latest: 100 });
    expect(expectationOf(records(100, 300))).toEqual({ seconds: 200, earliest: 100, latest: 300 });
    expect(expectationOf(records(9999, 9999, 100, 500, 200, 300, 400))).toEqual({ seconds: 300, earliest: 100, latest: 500 });
  });

  test('reads the HISTORY#<target> item; no item or an unreadable table means no expectation', async () => {
    ddbMock.on(GetCommand, { Key: { operation_id: historyKey('staging-db') } }).resolves({ Item: { phases: { restore: records(600, 660, 720) }, version: 3 } });
    expect(await expectedPhase('restore')).toEqual({ seconds: 660, earliest: 600, latest: 720 });
    expect(await expectedPhase('copy')).toBeUndefined();
    ddbMock.on(GetCommand, { Key: { operation_id: historyKey('staging-db') } }).rejects(awsError('AccessDeniedException'));
    const warn = jest.fn();
    expect(await expectedPhase('restore', { info: jest.fn(), warn, error: jest.fn() })).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('could not read the phase history'), expect.objectContaining({ errorName: 'AccessDeniedException' }));
  });

  test('records a phase once per operation: a retried step writes nothing', async () => {
    const stored: Record<string, unknown>[] = [];
    ddbMock.on(GetCommand, { Key: { operation_id: historyKey('staging-db') } }).callsFake(() => ({ Item: stored.at(-1) }));
    ddbMock.on(PutCommand).callsFake((input: { Item: Record<string, unknown> }) => {
      stored.push(input.Item);
      return {};
    });
    expect(await recordPhase('restore', 'op-a', 700, undefined, at(0))).toBe(true);
    expect(await recordPhase('restore', 'op-a', 705, undefined, at(5))).toBe(false);
    expect(stored).toHaveLength(1);
    expect(await recordPhase('passwordReset', 'op-a', 60, undefined, at(70))).toBe(true);
    expect(stored.at(-1)).toMatchObject({ version: 2, phases: { restore: [{ operationId: 'op-a', seconds: 700 }], passwordReset: [{ operationId: 'op-a', seconds: 60 }] } });
    const puts = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts[0].ConditionExpression).toBe('attribute_not_exists(operation_id)');
    expect(puts[1]).toMatchObject({ ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': 1 } });
  });

  test('keeps the last ten records per phase; a lost race is read again; a failing table is logged, not thrown', async () => {
    let item: Record<string, unknown> | undefined = { phases: { copy: records(...Array.from({ length: 10 }, (_, i) => 100 + i)) }, version: 7 };
    ddbMock.on(GetCommand, { Key: { operation_id: historyKey('staging-db') } }).callsFake(() => ({ Item: item }));
    ddbMock.on(PutCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).callsFake((input: { Item: Record<string, unknown> }) => {
      item = input.Item;
      return {};
    });
    expect(await recordPhase('copy', 'op-new', 500, undefined, at(0))).toBe(true);
    const copies = (item!.phases as Record<string, PhaseRecord[]>).copy;
    expect(copies).toHaveLength(WAIT_POLICY.historyKept);
    expect(copies.at(-1)).toMatchObject({ operationId: 'op-new', seconds: 500 });
    expect(copies[0].seconds).toBe(101);

    ddbMock.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));
    expect(await recordPhase('copy', 'op-other', 1, undefined, at(0))).toBe(false);
    ddbMock.on(PutCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    const warn = jest.fn();
    expect(await recordPhase('copy', 'op-third', 1, { info: jest.fn(), warn, error: jest.fn() }, at(0))).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('could not record the phase history'), expect.anything());
  });
});
