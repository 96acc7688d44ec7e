/*
 * RTO/RPO of one successful run, from its audit trail and state: computed when the run settles (SnsNotification),
 * stored in the state item, sent in the notification and emitted as CloudWatch metrics in the embedded metric format
 * (a log line CloudWatch Logs turns into metrics: no API call, no permission).
 *
 * An audit entry is written when its step ends (`time`) and records how long the step ran (`durationMs`), so a step
 * started at `time - durationMs`. Only the entries of this execution count (the caller reads those since its start).
 */
import type { AuditEntry } from './store';
import { STEP_NAMES } from '../../src/contracts';
import { RUN_METRICS, RunPhase } from '../../src/run-metrics';

/** The steps that make up each phase, first to last. */
const PHASE_STEPS: Record<RunPhase, string[]> = {
  [RunPhase.COPY]: [STEP_NAMES.copySnapshot, STEP_NAMES.checkCopyStatus],
  [RunPhase.DELETE]: [STEP_NAMES.deleteRds],
  [RunPhase.RESTORE]: [STEP_NAMES.restoreSnapshot, STEP_NAMES.checkRestoreStatus],
  [RunPhase.USERS]: [STEP_NAMES.setupDbUsers],
  [RunPhase.VALIDATION]: [STEP_NAMES.validateRestore],
  [RunPhase.CUTOVER]: [STEP_NAMES.cutover],
};

/** The figures of one run. Times are ISO 8601, durations whole seconds (rounded to 0.001). */
export interface RunFigures {
  /** When the execution started. */
  readonly startedAt: string;
  /** When the target was ready with its users: the end of a swap's Cutover, else the end of SetupDbUsers. */
  readonly readyAt: string;
  /** startedAt → readyAt: the run's RTO. */
  readonly restoreSeconds: number;
  /** When the restored snapshot was created. */
  readonly snapshotCreatedAt: string;
  /** readyAt − snapshotCreatedAt: how old the data is when the target is ready (the run's RPO). */
  readonly snapshotAgeSeconds: number;
  /**
   * How long the target was unusable: the `targetUnavailableSeconds` a step recorded (Cutover for a swap,
   * CheckRestoreStatus for DELETE_FIRST); else, when the run replaced an existing target, from the start of its delete
   * to readyAt.
   * @default - the run replaced no target
   */
  readonly targetUnavailableSeconds?: number;
  /** Seconds per phase that ran (COPY, DELETE, RESTORE, USERS, VALIDATION, CUTOVER). */
  readonly phaseSeconds: Partial<Record<RunPhase, number>>;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/**
 * The figures of a successful run, or undefined with the reason when the audit trail or the state lacks what they
 * need (never throws: figures must not stop a notification).
 */
export function computeRunFigures(
  entries: AuditEntry[], state: Record<string, any>, executionStartTime: string,
): { figures?: RunFigures; missing?: string } {
  const started = Date.parse(executionStartTime);
  if (Number.isNaN(started)) return { missing: `the execution start time '${executionStartTime}' is not a date` };
  const created = Date.parse(state?.snapshot?.createdAt);
  if (Number.isNaN(created)) return { missing: 'the state names no snapshot creation time' };
  const span = (steps: string[]) => {
    let from = Infinity;
    let to = -Infinity;
    for (const e of entries) {
      const end = Date.parse(e.time);
      if (!steps.includes(e.step) || Number.isNaN(end)) continue;
      from = Math.min(from, end - (e.durationMs ?? 0));
      to = Math.max(to, end);
    }
    return Number.isFinite(from) ? { from, to } : undefined;
  };
  const users = span(PHASE_STEPS[RunPhase.USERS]);
  if (!users) return { missing: `the audit trail has no ${STEP_NAMES.setupDbUsers} entry` };
  const readyAt = span(PHASE_STEPS[RunPhase.CUTOVER])?.to ?? users.to;

  const phaseSeconds: Partial<Record<RunPhase, number>> = {};
  for (const phase of Object.values(RunPhase)) {
    const s = span(PHASE_STEPS[phase]);
    if (s) phaseSeconds[phase] = seconds(s.to - s.from);
  }
  let targetUnavailableSeconds: number | undefined;
  const recorded = state.cutover?.targetUnavailableSeconds ?? state.restore?.targetUnavailableSeconds ?? state.targetUnavailableSeconds;
  if (typeof recorded === 'number' && Number.isFinite(recorded)) {
    targetUnavailableSeconds = recorded;
  } else if (state.delete?.targetExisted === true) {
    const del = span(PHASE_STEPS[RunPhase.DELETE]);
    if (del) targetUnavailableSeconds = seconds(readyAt - del.from);
  }
  return {
    figures: {
      startedAt: new Date(started).toISOString(),
      readyAt: new Date(readyAt).toISOString(),
      restoreSeconds: seconds(readyAt - started),
      snapshotCreatedAt: new Date(created).toISOString(),
      snapshotAgeSeconds: seconds(readyAt - created),
      ...(targetUnavailableSeconds !== undefined ? { targetUnavailableSeconds } : {}),
      phaseSeconds,
    },
  };
}

/**
 * The figures as one embedded-metric-format log line: namespace `AuroraRestorePipeline`, dimension `TargetCluster`,
 * unit seconds, timestamped at readyAt. The operation ID rides along as a property (searchable, not a dimension).
 */
export function embeddedMetricLine(figures: RunFigures, targetClusterIdentifier: string, operationId: string): string {
  const values: Record<string, number> = {
    [RUN_METRICS.restoreTime]: figures.restoreSeconds,
    [RUN_METRICS.snapshotAge]: figures.snapshotAgeSeconds,
  };
  if (figures.targetUnavailableSeconds !== undefined) values[RUN_METRICS.targetUnavailableTime] = figures.targetUnavailableSeconds;
  for (const [phase, value] of Object.entries(figures.phaseSeconds)) {
    if (value !== undefined) values[RUN_METRICS.phases[phase as RunPhase]] = value;
  }
  return JSON.stringify({
    _aws: {
      Timestamp: Date.parse(figures.readyAt),
      CloudWatchMetrics: [{
        Namespace: RUN_METRICS.namespace,
        Dimensions: [[RUN_METRICS.dimension]],
        Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Seconds' })),
      }],
    },
    [RUN_METRICS.dimension]: targetClusterIdentifier,
    operationId,
    ...values,
  });
}
