/*
 * Detection benchmark: how late a pipeline notices finished AWS work, and what its waiting costs, against a fixed
 * 60 s poll. Runs the synthesized state machine with the real wait-loop bundles on a virtual clock against a held
 * fake RDS (bench/support/): copy C minutes, restore R minutes, master password reset 60 s, and over an existing target
 * a delete (writer 6 min, then the cluster 4 min; its delete is requested with the writer's, as RDS takes it once the
 * instances are `deleting`, so the pipeline waits once) and a swap's two renames (60 s each); each duration varies by up to
 * ±3 % from run to run, and each run starts at a random second of the hour.
 *
 *   npx projen bench:detection [-- --alignments 10] [--case 60,120] [--seed 1] [--jobs 2] [--phases] [--minutes] [--modes 0,1]
 *
 * Every check runs the real bundles (a few ms of CPU each, most of it the SDK's calls): 100 alignments of every case,
 * one child process per case and mode, `--jobs` at a time, the longest first, take about an hour of a 2-core machine,
 * most of it (1440, 1440); `--alignments` sets a smaller count for a quick look. `--minutes` adds each mode's fleet rate
 * minute by minute and its RDS calls by action.
 *
 * Per case and mode it prints, over the alignments: detection lag (the sum, over every wait of the run, of the time
 * between RDS finishing something and a check seeing it; mean and max; `--phases` splits it by kind), state
 * transitions and history events per execution, RDS calls per run and per hour of waiting, and for 100 pipelines started by one
 * schedule (within 10 s) the RDS requests per second: the mean over a run, the median minute while all of them run
 * (the "sustained" rate), and the busiest second.
 * Modes (`--modes` picks by index): 0 `first run` (no history), 1 `nightly` (five earlier runs recorded), 2 `fixed
 * 60 s` (pollInterval = maxPollInterval = 60 s), all three on a new target (copy, restore, password reset), then over
 * an existing target with history: 3 `nightly, swap` (the default ReplaceStrategy: the restore, the two renames, the
 * previous target retired) and 4 `nightly, delete first`.
 */
import '../test/setup/polyfills';
import { execFile } from 'node:child_process';
import { Duration } from 'aws-cdk-lib';
import { FakeAws, type CompletionKind } from './support/fake-aws';
import { PipelineTimeline, type RunResult } from './support/timeline';
import { realNow, VirtualClock } from './support/virtual-clock';
import { ReplaceStrategy, WAIT_PHASES, WAIT_POLICY } from '../src/contracts';
import { pipelineStack } from '../test/e2e/support/stacks';

/** Copy and restore minutes, and how many alignments each runs by default (every check runs the real bundles: long cases are slow). */
const CASES: Array<[number, number, number]> = [[0, 10, 100], [10, 30, 100], [60, 120, 100], [240, 480, 100], [1440, 1440, 100]];
const VARIATION = 0.03;
const RESET_SECONDS = 60;
/** The existing target's delete (DELETE_FIRST, or a swap retiring it): RDS deletes its writer, then the cluster with its final snapshot. */
const INSTANCE_DELETE_SECONDS = 360;
const CLUSTER_DELETE_SECONDS = 240;
/** Each of a swap's two renames. */
const RENAME_SECONDS = 60;
const FLEET = 100;
const DEFAULTS = 'Defaults:';
/** The modes, in the order of `--modes` and of the rows. */
const MODE_COUNT = 5;

// The benchmark synthesizes its stacks only to run them: aws-cdk-lib's CloudFormation validation (a WebAssembly
// validator, most of a child's synth time) is off here; the tests and CI keep it.
process.env.CDK_VALIDATION ??= 'false';

/** The modes `--modes` picks (by index), else all. */
function pickedModes(): number[] {
  const i = process.argv.indexOf('--modes');
  return i >= 0 ? process.argv[i + 1].split(',').map(Number) : Array.from({ length: MODE_COUNT }, (_m, k) => k);
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/* eslint-disable no-bitwise -- mulberry32 is bit arithmetic */
/** mulberry32: a small seeded generator, so a run of the benchmark can be repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/* eslint-enable no-bitwise */

interface Summary {
  readonly mode: string;
  readonly runs: RunResult[];
  readonly fleet: { sustained: number; peak: number; minutes: number[] };
}

/**
 * RDS requests per second of {@link FLEET} pipelines started by one schedule, each within 10 s of it (the runs of the
 * case taken in turn: a run stands for several pipelines when there are fewer runs than pipelines).
 *
 * - sustained: the median of the per-minute rates from the schedule until the first of them ends (the minutes all
 *   of them run). RDS throttles with a token bucket (300 requests of burst, refilled at 12 per second per account and
 *   region): short bursts such as the schedule's start or each loop's first checks are absorbed by the bucket, while
 *   the refill rate bounds what a fleet can keep up minute after minute. The median minute is that rate, robust to
 *   the few bursty minutes.
 * - peak: the busiest second.
 */
function fleetRates(runs: RunResult[], random: () => number): { sustained: number; peak: number; minutes: number[] } {
  const perSecond = new Map<number, number>();
  let allRunning = Infinity;
  Array.from({ length: FLEET }, (_, i) => runs[i % runs.length]).forEach((r) => {
    const offset = random() * 10_000;
    allRunning = Math.min(allRunning, Math.floor((r.seconds * 1000 + offset) / 1000));
    for (const c of r.rdsCalls) {
      const s = Math.floor((c.at + offset) / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
  });
  const peak = Math.max(0, ...perSecond.values());
  const perMinute: number[] = [];
  for (let m = 0; (m + 1) * 60 <= allRunning; m++) {
    let sum = 0;
    for (let s = m * 60; s < (m + 1) * 60; s++) sum += perSecond.get(s) ?? 0;
    perMinute.push(sum / 60);
  }
  const minutes = [...perMinute];
  perMinute.sort((a, b) => a - b);
  return { sustained: perMinute.length ? perMinute[Math.floor(perMinute.length / 2)] : 0, peak, minutes };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Runs one case in this process and prints its rows. */
async function runCase(c: number, r: number, alignments: number, seed: number, print: (line: string) => void): Promise<void> {
  // Each case has its own seeded stream for its scenarios, and each mode its own for the handlers' jitter (they read
  // Math.random) and the fleet's start offsets: a mode prints the same row whether it runs alone or with the others.
  const caseSeed = seed * 1000 + c * 7 + r;
  const random = seeded(caseSeed);
  const clock = new VirtualClock(new Date('2026-12-01T00:00:00Z'));
  clock.install();
  const fake = new FakeAws(clock, { copySeconds: 0, restoreSeconds: 0, passwordResetSeconds: RESET_SECONDS }, 'eu-west-1');
  const endpoint = await fake.start();
  try {
    // Synthesized when a picked mode needs them (a synth takes seconds of CPU).
    const lazy = (make: () => PipelineTimeline) => {
      let made: PipelineTimeline | undefined;
      return () => (made ??= make());
    };
    const eta = lazy(() => {
      const t = PipelineTimeline.fromStack(pipelineStack({}, { stackName: 'Eta' }).stack, fake, clock, endpoint);
      const w = t.config.waits;
      print(`${DEFAULTS} pollInterval ${w.pollIntervalSeconds} s, maxPollInterval ${w.maxPollIntervalSeconds} s, backoff ×${w.backoffRate}, waitBudget ${w.budgetSeconds / 3600} h, `
        + `timeout ${t.config.lockTtlSeconds / 3600} h, jitter ±${WAIT_POLICY.jitter * 100} % (a backoff or an approach ±${WAIT_POLICY.coarseJitter * 100} %, `
        + `a backoff at its cap ±${WAIT_POLICY.cappedJitter * 100} %).`);
      return t;
    });
    const fixed = lazy(() => PipelineTimeline.fromStack(pipelineStack({
      pollInterval: Duration.seconds(60), maxPollInterval: Duration.seconds(60), pollBackoffRate: 1,
    }, { stackName: 'Fixed60' }).stack, fake, clock, endpoint));
    const deleteFirst = lazy(() => PipelineTimeline.fromStack(pipelineStack({ replaceStrategy: ReplaceStrategy.DELETE_FIRST }, { stackName: 'DeleteFirst' }).stack, fake, clock, endpoint));
    const vary = (seconds: number) => seconds * (1 + VARIATION * (2 * random() - 1));
    const records = (seconds: number) => Array.from({ length: 5 }, (_x, k) => ({ operationId: `earlier-${k}`, seconds: Math.round(vary(seconds)), at: '' }));
    const scenarios = Array.from({ length: alignments }, (_, i) => ({
      i,
      startAt: Date.parse('2026-12-01T02:00:00Z') + Math.floor(random() * 3600) * 1000,
      durations: {
        copySeconds: c > 0 ? vary(c * 60) : 0,
        restoreSeconds: vary(r * 60),
        passwordResetSeconds: vary(RESET_SECONDS),
        instanceDeleteSeconds: vary(INSTANCE_DELETE_SECONDS),
        clusterDeleteSeconds: vary(CLUSTER_DELETE_SECONDS),
        renameSeconds: vary(RENAME_SECONDS),
      },
      history: {
        ...(c > 0 ? { [WAIT_PHASES.copy]: records(c * 60) } : {}),
        // A delete (one wait: the instances, then the cluster) and a swap's two renames.
        [WAIT_PHASES.delete]: records(INSTANCE_DELETE_SECONDS + CLUSTER_DELETE_SECONDS),
        [WAIT_PHASES.renameTargetAway]: records(RENAME_SECONDS),
        [WAIT_PHASES.renameNewCluster]: records(RENAME_SECONDS),
        [WAIT_PHASES.restore]: records(r * 60),
        [WAIT_PHASES.passwordReset]: records(RESET_SECONDS),
      },
    }));
    // The issue's scenario (a new target: copy, restore, password reset) in three modes; then a nightly run replacing an
    // existing target, as the default SWAP (two renames, then the previous target retired) and as DELETE_FIRST.
    const modes = [
      ['first run', eta, false, false], ['nightly', eta, true, false], ['fixed 60 s', fixed, false, false],
      ['nightly, swap', eta, true, true], ['nightly, delete first', deleteFirst, true, true],
    ] as const;
    const summaries: Summary[] = [];
    for (const k of pickedModes()) {
      const [mode, timeline, withHistory, existingTarget] = modes[k];
      Math.random = seeded(caseSeed + 1 + 100 * k);
      const fleetRandom = seeded(caseSeed + 2 + 100 * k);
      const runs: RunResult[] = [];
      for (const s of scenarios) {
        clock.set(s.startAt);
        runs.push(await timeline().run({
          durations: s.durations, name: `${mode.replace(/\W/g, '')}-${c}-${r}-${s.i}`, history: withHistory ? s.history : undefined, existingTarget,
        }));
      }
      summaries.push({ mode, runs, fleet: fleetRates(runs, fleetRandom) });
    }
    for (const { mode, runs, fleet } of summaries) {
      const ok = runs.filter((x) => x.status === 'SUCCEEDED');
      const total = (x: RunResult) => Object.values(x.lag).reduce((a, b) => a + (b ?? 0), 0);
      const lags = ok.map(total);
      const perHour = ok.map((x) => x.rdsCalls.length / (x.seconds / 3600));
      const events = Math.max(...runs.map((x) => x.historyEvents));
      const failures = runs.filter((x) => x.status !== 'SUCCEEDED').map((x) => x.error);
      print(`| ${c}, ${r} | ${mode} | ${ok.length}/${runs.length} | ${fmt(mean(lags))} | ${fmt(Math.max(0, ...lags))} | ${fmt(mean(ok.map((x) => x.transitions)))} | `
        + `${events}${events > WAIT_POLICY.historyEventLimit ? ' (over 25,000: fails on AWS)' : ''} | ${fmt(mean(ok.map((x) => x.rdsCalls.length)))} | ${fmt(mean(perHour), 1)} `
        + `| ${fmt((mean(perHour) * FLEET) / 3600, 2)} `
        + `| ${fmt(fleet.sustained, 2)} | ${fleet.peak} |`);
      if (process.argv.includes('--phases')) {
        const phase = (k: CompletionKind) => fmt(mean(ok.map((x) => x.lag[k] ?? 0)));
        print(`|   | ${mode}: lag by kind (copy, delete, restore, password reset, renames) | ${phase('copy')}, ${phase('delete')}, ${phase('restore')}, `
          + `${phase('passwordReset')}, ${phase('rename')} | | | | | | | | | |`);
      }
      if (process.argv.includes('--minutes')) {
        const byAction = new Map<string, number>();
        for (const x of ok) for (const call of x.rdsCalls) byAction.set(call.action, (byAction.get(call.action) ?? 0) + 1 / ok.length);
        print(`|   | ${mode}: RDS calls per run by action | ${[...byAction].map(([a, n]) => `${a} ${fmt(n, 1)}`).join(', ')} | | | | | | | | | |`);
        print(`|   | ${mode}: 100 pipelines, req/s minute by minute | ${fleet.minutes.map((m) => fmt(m, 2)).join(' ')} | | | | | | | | | |`);
      }
      if (failures.length > 0) print(`|   | ${mode}: first failure | ${failures[0]} | | | | | | | | | |`);
    }
  } finally {
    await fake.stop();
    clock.uninstall();
  }
}

async function main(): Promise<void> {
  const alignmentsArg = arg('alignments', 0);
  const seed = arg('seed', 1);
  const jobs = Math.max(1, arg('jobs', 2));
  const began = realNow();
  // The handlers log a JSON line per step: not here.
  const print = (line: string) => process.stdout.write(`${line}\n`);
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) console[m] = () => undefined;
  const only = process.argv.indexOf('--case');
  const cases = only >= 0 ? CASES.filter(([c, r]) => `${c},${r}` === process.argv[only + 1]) : CASES;
  if (process.argv.includes('--child')) {
    for (const [c, r, defaultAlignments] of cases) await runCase(c, r, alignmentsArg || defaultAlignments, seed, print);
    return;
  }
  print(`Detection benchmark: ${alignmentsArg ? `${alignmentsArg} alignments` : `${cases.map(([, , a]) => a).join('/')} alignments`} per case and mode, durations ±${VARIATION * 100} %, `
    + `an existing target (delete: instances ${INSTANCE_DELETE_SECONDS / 60} min, cluster ${CLUSTER_DELETE_SECONDS / 60} min; renames ${RENAME_SECONDS} s), password reset ${RESET_SECONDS} s, seed ${seed}, ${jobs} jobs.`);
  const header = [
    '| copy, restore (min) | mode | runs succeeded | lag mean (s) | lag max (s) | transitions | history events (max) | RDS calls per run '
    + '| RDS calls / h waiting | 100 pipelines: mean req/s | median minute req/s | peak req/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  // One child process per case and mode, `jobs` at a time: each loads its own bundles and runs on its own virtual clock.
  const outputs = new Map<string, string>();
  const modes = pickedModes();
  // The longest cases first, so that none of them starts last.
  const queue = [...cases].sort((x, y) => y[0] + y[1] - (x[0] + x[1])).flatMap(([c, r, a]) => modes.map((k) => [c, r, a, k] as const));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [c, r, defaultAlignments, k] = next;
      const args = [...process.execArgv, process.argv[1], '--child', '--case', `${c},${r}`, '--alignments', String(alignmentsArg || defaultAlignments), '--seed', String(seed),
        '--modes', String(k), ...['--phases', '--minutes'].filter((f) => process.argv.includes(f))];
      outputs.set(`${c},${r},${k}`, await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`case ${c},${r} mode ${k}: ${stderr || err.message}`)) : resolve(stdout)));
      }));
      process.stderr.write(`case ${c}, ${r} mode ${k} done after ${fmt((realNow() - began) / 1000)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const lines = cases.flatMap(([c, r]) => modes.flatMap((k) => (outputs.get(`${c},${r},${k}`) ?? '').split('\n').filter((l) => l !== '')));
  print(lines.find((l) => l.startsWith(DEFAULTS)) ?? '');
  print('');
  for (const line of [...header, ...lines.filter((l) => !l.startsWith(DEFAULTS))]) print(line);
  print('');
  print(`Took ${fmt((realNow() - began) / 1000, 1)} s.`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
