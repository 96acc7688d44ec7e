import { computeRunFigures, embeddedMetricLine } from '../../lambda-src/lib/run-figures';
import type { AuditEntry } from '../../lambda-src/lib/store';
import { RunPhase } from '../../src/run-metrics';

const START = '2026-11-22T10:00:00.000Z';
const SNAPSHOT_CREATED = '2026-11-22T02:00:00.000Z';
/** An audit entry written at `end` (seconds after START) by a step that ran `seconds`. */
const entry = (step: string, end: number, seconds: number, outcome = 'SUCCEEDED'): AuditEntry => ({
  operationId: 'op-1', step, outcome, time: new Date(Date.parse(START) + end * 1000).toISOString(), durationMs: seconds * 1000,
});

const crossRegionReplace: AuditEntry[] = [
  entry('SnapshotCheck', 2, 1.5),
  entry('CopySnapshot', 4, 1), // started at +3
  entry('CheckCopyStatus', 60, 0.2, 'IN_PROGRESS'),
  entry('CheckCopyStatus', 600, 0.3), // copy: +3 → +600
  entry('DeleteRds', 602, 1.5, 'IN_PROGRESS'), // delete starts at +600.5
  entry('DeleteRds', 900, 0.5), // → +900
  entry('RestoreSnapshot', 903, 2), // restore starts at +901
  entry('CheckRestoreStatus', 1500, 0.4, 'IN_PROGRESS'),
  entry('CheckRestoreStatus', 2100, 0.4), // → +2100
  entry('SetupDbUsers', 2110, 8), // users +2102 → +2110: ready
  entry('ArchiveSnapshot', 2112, 1),
];

describe('run figures', () => {
  test('a cross-region run that replaced the target: every phase, RTO, RPO and the unavailable time from the audit trail', () => {
    const { figures } = computeRunFigures(crossRegionReplace, { snapshot: { createdAt: SNAPSHOT_CREATED }, delete: { targetExisted: true } }, START);
    expect(figures).toEqual({
      startedAt: START,
      readyAt: '2026-11-22T10:35:10.000Z',
      restoreSeconds: 2110,
      snapshotCreatedAt: SNAPSHOT_CREATED,
      snapshotAgeSeconds: 8 * 3600 + 2110,
      targetUnavailableSeconds: 2110 - 600.5,
      phaseSeconds: { [RunPhase.COPY]: 597, [RunPhase.DELETE]: 299.5, [RunPhase.RESTORE]: 1199, [RunPhase.USERS]: 8 },
    });
  });

  test('a same-region first run: no copy, no delete phase, no unavailable time', () => {
    const trail = crossRegionReplace.filter((e) => !/Copy|DeleteRds/.test(e.step));
    const { figures } = computeRunFigures(trail, { snapshot: { createdAt: SNAPSHOT_CREATED } }, START);
    expect(figures?.phaseSeconds).toEqual({ [RunPhase.RESTORE]: 1199, [RunPhase.USERS]: 8 });
    expect(figures?.targetUnavailableSeconds).toBeUndefined();
  });

  test('DeleteRds found nothing to delete (targetExisted false): a delete phase, but the target was never unavailable', () => {
    const { figures } = computeRunFigures(crossRegionReplace, { snapshot: { createdAt: SNAPSHOT_CREATED }, delete: { targetExisted: false } }, START);
    expect(figures?.phaseSeconds[RunPhase.DELETE]).toBe(299.5);
    expect(figures?.targetUnavailableSeconds).toBeUndefined();
  });

  test('a step that measured the unavailable time itself (a swap cutover) is believed', () => {
    const { figures } = computeRunFigures(crossRegionReplace,
      { snapshot: { createdAt: SNAPSHOT_CREATED }, delete: { targetExisted: true }, targetUnavailableSeconds: 12.5 }, START);
    expect(figures?.targetUnavailableSeconds).toBe(12.5);
  });

  test('what the figures need is missing: the reason, no figures', () => {
    expect(computeRunFigures(crossRegionReplace, { snapshot: { createdAt: SNAPSHOT_CREATED } }, 'yesterday'))
      .toEqual({ missing: 'the execution start time \'yesterday\' is not a date' });
    expect(computeRunFigures(crossRegionReplace, {}, START)).toEqual({ missing: 'the state names no snapshot creation time' });
    expect(computeRunFigures(crossRegionReplace.filter((e) => e.step !== 'SetupDbUsers'), { snapshot: { createdAt: SNAPSHOT_CREATED } }, START))
      .toEqual({ missing: 'the audit trail has no SetupDbUsers entry' });
  });

  test('an entry with an unreadable time or no duration: skipped, or counted as instantaneous', () => {
    const trail = [{ ...entry('RestoreSnapshot', 903, 2), time: 'garbage' }, { ...entry('CheckRestoreStatus', 2100, 0), durationMs: undefined }, entry('SetupDbUsers', 2110, 8)];
    const { figures } = computeRunFigures(trail, { snapshot: { createdAt: SNAPSHOT_CREATED } }, START);
    expect(figures?.phaseSeconds[RunPhase.RESTORE]).toBe(0);
  });

  test('embedded metric format: one line, namespace AuroraRestorePipeline, dimension TargetCluster, seconds, at readyAt', () => {
    const { figures } = computeRunFigures(crossRegionReplace, { snapshot: { createdAt: SNAPSHOT_CREATED }, delete: { targetExisted: true } }, START);
    const line = embeddedMetricLine(figures!, 'staging-aurora', 'op-1');
    expect(line).not.toContain('\n');
    const emf = JSON.parse(line);
    expect(emf._aws).toEqual({
      Timestamp: Date.parse('2026-11-22T10:35:10.000Z'),
      CloudWatchMetrics: [{
        Namespace: 'AuroraRestorePipeline',
        Dimensions: [['TargetCluster']],
        Metrics: ['RestoreTime', 'SnapshotAge', 'TargetUnavailableTime', 'CopyTime', 'DeleteTime', 'RestorePhaseTime', 'UsersTime']
          .map((Name) => ({ Name, Unit: 'Seconds' })),
      }],
    });
    expect(emf).toMatchObject({
      TargetCluster: 'staging-aurora',
      operationId: 'op-1',
      RestoreTime: 2110,
      SnapshotAge: 30910,
      TargetUnavailableTime: 1509.5,
      CopyTime: 597,
      DeleteTime: 299.5,
      RestorePhaseTime: 1199,
      UsersTime: 8,
    });
    // Every metric the directive names has its value on the line.
    for (const m of emf._aws.CloudWatchMetrics[0].Metrics) expect(typeof emf[m.Name]).toBe('number');
  });

  test('a run that validated the restored cluster: ValidateRestore is the validation phase, after the users', () => {
    const trail = [...crossRegionReplace.slice(0, 10), entry('ValidateRestore', 2113, 2.5), entry('ArchiveSnapshot', 2115, 1)];
    const { figures } = computeRunFigures(trail, { snapshot: { createdAt: SNAPSHOT_CREATED } }, START);
    expect(figures?.phaseSeconds[RunPhase.VALIDATION]).toBe(2.5);
    expect(figures?.restoreSeconds).toBe(2110);
    const emf = JSON.parse(embeddedMetricLine(figures!, 'staging-aurora', 'op-1'));
    expect(emf.ValidationTime).toBe(2.5);
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toContain('ValidationTime');
  });

  test('a run without the optional figures emits only those it has', () => {
    const trail = crossRegionReplace.filter((e) => !/Copy|DeleteRds/.test(e.step));
    const { figures } = computeRunFigures(trail, { snapshot: { createdAt: SNAPSHOT_CREATED } }, START);
    const emf = JSON.parse(embeddedMetricLine(figures!, 'staging-aurora', 'op-1'));
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toEqual(['RestoreTime', 'SnapshotAge', 'RestorePhaseTime', 'UsersTime']);
  });
});
