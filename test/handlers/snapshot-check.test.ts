import { DescribeDBClustersCommand, DescribeDBClusterSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ACCOUNT,
  auditItems,
  awsError,
  captureLogs,
  DEFAULT_DB_USERS,
  DynamoDBDocumentClient,
  EXECUTION_ARN,
  OPERATION_ID,
  SOURCE_REGION,
  SOURCE_SNAPSHOT_ARN,
  SOURCE_SNAPSHOT_ID,
  TARGET_REGION,
  useConfig,
} from './support/factories';
import { errors } from '../../lambda-src/lib/errors';
import { copySnapshotIdentifier } from '../../lambda-src/lib/naming';
import type { PreflightInput } from '../../lambda-src/lib/preflight';
import { handler as snapshotCheck } from '../../lambda-src/snapshot-check';
import { DryRunState, PipelineErrorName, PipelineState, PipelineTag, PreflightCheckId, PreflightCheckStatus, SnapshotCheckEvent } from '../../src/contracts';

// The preflight's checks have their own tests (preflight.test.ts); here it passes, unless a test says otherwise.
const runPreflight = jest.fn();
jest.mock('../../lambda-src/lib/preflight', () => ({
  ...jest.requireActual('../../lambda-src/lib/preflight'),
  runPreflight: (...args: unknown[]) => runPreflight(...args),
}));

/** A restore run's state (these tests run no dry run). */
const handler = async (e: SnapshotCheckEvent) => await snapshotCheck(e) as PipelineState;

const rdsMock = mockClient(RDSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

function event(input: unknown = {}): SnapshotCheckEvent {
  return { input, executionArn: EXECUTION_ARN, executionName: OPERATION_ID, executionStartTime: '2026-11-22T10:00:00.000Z' };
}

function snapshot(id: string, created: string, overrides: Record<string, unknown> = {}) {
  return {
    DBClusterSnapshotIdentifier: id,
    DBClusterSnapshotArn: `arn:aws:rds:${SOURCE_REGION}:${ACCOUNT}:cluster-snapshot:${id}`,
    DBClusterIdentifier: 'prod-db',
    SnapshotCreateTime: new Date(created),
    Engine: 'aurora-postgresql',
    EngineVersion: '16.4',
    Status: 'available',
    SnapshotType: 'manual',
    StorageEncrypted: true,
    KmsKeyId: 'source-key',
    ...overrides,
  };
}

const targetAbsent = () => rdsMock.on(DescribeDBClustersCommand).rejects(awsError('DBClusterNotFoundFault', 'DBCluster staging-db not found.'));

let logs: ReturnType<typeof captureLogs>;
beforeEach(() => {
  runPreflight.mockReset();
  runPreflight.mockResolvedValue({ report: { passed: true, checks: [], summary: 'All 0 applicable preflight checks passed.' } });
  rdsMock.reset();
  ddbMock.reset();
  ddbMock.onAnyCommand().resolves({});
  logs = captureLogs();
  useConfig();
});
afterEach(() => jest.restoreAllMocks());

describe('snapshot-check', () => {
  test('resolves an explicit snapshot, locks the target, records the operation and returns the state', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: SOURCE_SNAPSHOT_ID })
      .resolves({ DBClusterSnapshots: [snapshot(SOURCE_SNAPSHOT_ID, '2026-11-01T00:00:00Z')] });
    targetAbsent();

    const state = await handler(event({ snapshotIdentifier: SOURCE_SNAPSHOT_ID, requestedBy: 'alice' }));

    expect(state).toMatchObject({
      operationId: OPERATION_ID,
      executionArn: EXECUTION_ARN,
      startedAt: '2026-11-22T10:00:00.000Z',
      copyRequired: true,
      replaceTarget: false,
      restoreSnapshotIdentifier: copySnapshotIdentifier('staging-db', 'op-1'),
      snapshot: { identifier: SOURCE_SNAPSHOT_ID, arn: SOURCE_SNAPSHOT_ARN, region: SOURCE_REGION, engine: 'aurora-postgresql', storageEncrypted: true },
    });
    const puts = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input);
    const lock = puts.find((p) => p.Item?.operation_id === 'LOCK#staging-db');
    expect(lock?.Item).toMatchObject({ holder_operation_id: OPERATION_ID, holder_execution_arn: EXECUTION_ARN });
    expect(lock?.ConditionExpression).toContain('attribute_not_exists');
    const op = puts.find((p) => p.TableName === 'state-table' && p.Item?.operation_id === OPERATION_ID);
    expect(op?.Item).toMatchObject({ status: 'RUNNING', execution_arn: EXECUTION_ARN, snapshot_identifier: SOURCE_SNAPSHOT_ID, requested_by: 'alice' });
    expect(typeof op?.Item?.expires_at).toBe('number');
    const [audit] = auditItems(ddbMock);
    expect(audit).toMatchObject({ operation_id: OPERATION_ID, step: 'SnapshotCheck', outcome: 'SUCCEEDED', requested_by: 'alice' });
    expect(audit.time_step).toMatch(/^\d{4}-\d\d-\d\dT.*#SnapshotCheck$/);
    expect(typeof audit.duration_ms).toBe('number');
    expect(logs.json().some((l) => l.message === 'step finished' && l.step === 'SnapshotCheck')).toBe(true);
  });

  test('picks the newest available snapshot, manual and automated when configured', async () => {
    useConfig({ includeAutomatedSnapshots: true });
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { SnapshotType: 'manual' }).resolves({
      DBClusterSnapshots: [snapshot('m-old', '2026-10-01T00:00:00Z'), snapshot('m-creating', '2026-11-20T00:00:00Z', { Status: 'creating' })],
    });
    rdsMock.on(DescribeDBClusterSnapshotsCommand, { SnapshotType: 'automated' }).resolves({
      DBClusterSnapshots: [snapshot('rds:prod-db-2026-11-10', '2026-11-10T00:00:00Z', { SnapshotType: 'automated' })],
    });
    targetAbsent();

    const state = await handler(event());

    expect(state.snapshot.identifier).toBe('rds:prod-db-2026-11-10');
    expect(state.snapshot.snapshotType).toBe('automated');
    expect(rdsMock.commandCalls(DescribeDBClusterSnapshotsCommand).map((c) => c.args[0].input.DBClusterIdentifier)).toEqual(['prod-db', 'prod-db']);
  });

  test('without a copy, restores from the source snapshot ARN (so automated and shared snapshots work)', async () => {
    useConfig({ targetRegion: SOURCE_REGION });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m1', '2026-11-01T00:00:00Z')] });
    targetAbsent();

    const state = await handler(event());

    expect(state.copyRequired).toBe(false);
    expect(state.restoreSnapshotIdentifier).toBe(`arn:aws:rds:${SOURCE_REGION}:${ACCOUNT}:cluster-snapshot:m1`);
  });

  test('an owned existing target is to be replaced', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m1', '2026-11-01T00:00:00Z')] });
    rdsMock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ DBClusterIdentifier: 'staging-db', Status: 'available', TagList: [{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }] }],
    });
    expect((await handler(event())).replaceTarget).toBe(true);
  });

  test('an unowned target is replaced when assumeTargetOwned is set', async () => {
    useConfig({ assumeTargetOwned: true });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m1', '2026-11-01T00:00:00Z')] });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'staging-db', TagList: [] }] });
    expect((await handler(event())).replaceTarget).toBe(true);
  });

  test('a second call converges: same state, the lock renewed for the same operation', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m1', '2026-11-01T00:00:00Z')] });
    targetAbsent();
    const first = await handler(event());
    const second = await handler(event());
    expect(second).toEqual(first);
    const locks = ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.Item?.operation_id === 'LOCK#staging-db');
    expect(locks).toHaveLength(2);
    expect(locks[1].args[0].input.ConditionExpression).toContain('holder_operation_id = :op AND holder_execution_arn = :arn');
  });

  test('the operation ID comes from the input when given', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m1', '2026-11-01T00:00:00Z')] });
    targetAbsent();
    const state = await handler(event({ operationId: 'Nightly_2026' }));
    expect(state.operationId).toBe('Nightly_2026');
    expect(state.restoreSnapshotIdentifier).toMatch(/^arp-copy-staging-db-nightly-2026-[0-9a-f]{8}$/);
  });

  describe('InvalidInput', () => {
    test.each([
      [{ snapshotId: 'x' }, /unknown field 'snapshotId'/],
      [{ operationId: 'has space' }, /'operationId'/],
      [{ operationId: 'x'.repeat(65) }, /'operationId'/],
      [{ snapshotIdentifier: 7 }, /'snapshotIdentifier'/],
      [{ snapshotIdentifier: 'bad id!' }, /'snapshotIdentifier'/],
      [{ snapshotIdentifier: 'arn:aws:rds:eu-west-1:123:snapshot:x' }, /'snapshotIdentifier'/],
      [{ requestedBy: 42 }, /'requestedBy'/],
      [[1, 2], /must be a JSON object/],
      ['text', /must be a JSON object/],
    ])('input %j', async (input, message) => {
      const err = await handler(event(input)).catch((e) => e);
      expect(err.name).toBe(PipelineErrorName.INVALID_INPUT);
      expect(err.message).toMatch(message);
      expect(rdsMock.calls()).toHaveLength(0);
      // Nothing locked; the failure is audited under the execution's name.
      expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'state-table')).toHaveLength(0);
      expect(auditItems(ddbMock)[0]).toMatchObject({ operation_id: OPERATION_ID, outcome: 'FAILED', details: { errorName: 'InvalidInput' } });
    });

    test('a snapshot ARN of another region', async () => {
      const err = await handler(event({ snapshotIdentifier: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster-snapshot:x` })).catch((e) => e);
      expect(err.name).toBe(PipelineErrorName.INVALID_INPUT);
      expect(err.message).toContain('us-east-1');
      expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'state-table')).toHaveLength(0); // no lock taken
    });

    test('a missing or malformed PIPELINE_CONFIG says the construct sets it', async () => {
      delete process.env.PIPELINE_CONFIG;
      await expect(handler(event())).rejects.toMatchObject({ name: 'InvalidInput', message: expect.stringContaining('construct sets PIPELINE_CONFIG') });
      process.env.PIPELINE_CONFIG = '{not json';
      await expect(handler(event())).rejects.toMatchObject({ name: 'InvalidInput', message: expect.stringContaining('not valid JSON') });
    });
  });

  test('SourceClusterProtected when the target is the source in the same region', async () => {
    useConfig({ targetClusterIdentifier: 'prod-db', targetRegion: SOURCE_REGION });
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SOURCE_CLUSTER_PROTECTED);
    expect(rdsMock.calls()).toHaveLength(0);
  });

  test('SnapshotNotFound: the named snapshot does not exist (RDS fault)', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    const err = await handler(event({ snapshotIdentifier: 'missing' })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_NOT_FOUND);
    expect(err.message).toContain('missing');
    // The snapshot is resolved before the lock: nothing was locked, so nothing is given back.
    expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'state-table')).toHaveLength(0);
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(0);
  });

  test.each([
    ['another cluster\'s snapshot', 'staging-db'],
    ['a cluster whose name only starts like the source', 'prod-db-2'],
  ])('SnapshotNotFromSource: %s is refused before any lock is taken', async (_what, cluster) => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('foreign', '2026-11-01T00:00:00Z', { DBClusterIdentifier: cluster })] });
    const err = await handler(event({ snapshotIdentifier: 'foreign' })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_NOT_FROM_SOURCE);
    expect(err.message).toBe(`Snapshot foreign is a snapshot of cluster ${cluster}, not of the source cluster prod-db: the pipeline restores only its source's snapshots. `
      + 'Pass a snapshot of prod-db, or leave snapshotIdentifier out to restore its latest one.');
    expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'state-table')).toHaveLength(0);
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)).toHaveLength(0);
  });

  test('a named snapshot of the source is accepted whatever the case RDS reports its cluster in', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z', { DBClusterIdentifier: 'PROD-db' })] });
    targetAbsent();
    await expect(handler(event({ snapshotIdentifier: 'm' }))).resolves.toMatchObject({ snapshot: { identifier: 'm' } });
  });

  test('SnapshotNotFound: no available snapshot of the source cluster', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('c', '2026-11-01T00:00:00Z', { Status: 'creating' })] });
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.SNAPSHOT_NOT_FOUND);
    expect(err.message).toMatch(/no available manual snapshot/);
  });

  test('SnapshotNotFound for a failed snapshot, ResourceBusy (retried) for one still being created', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolvesOnce({ DBClusterSnapshots: [snapshot('s', '2026-11-01T00:00:00Z', { Status: 'failed' })] })
      .resolvesOnce({ DBClusterSnapshots: [snapshot('s', '2026-11-01T00:00:00Z', { Status: 'creating' })] });
    await expect(handler(event({ snapshotIdentifier: 's' }))).rejects.toMatchObject({ name: PipelineErrorName.SNAPSHOT_NOT_FOUND });
    await expect(handler(event({ snapshotIdentifier: 's' }))).rejects.toMatchObject({ name: PipelineErrorName.RESOURCE_BUSY });
  });

  test('UnsupportedEngine for a snapshot of another engine', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z', { Engine: 'aurora-mysql' })] });
    const err = await handler(event({ snapshotIdentifier: 'm' })).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.UNSUPPORTED_ENGINE);
    expect(err.message).toContain('aurora-mysql');
  });

  test('TargetAlreadyExists when the target exists and replacing is not allowed', async () => {
    useConfig({ replaceExistingTarget: false });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'staging-db', TagList: [{ Key: PipelineTag.PIPELINE, Value: 'pipeline-under-test' }] }] });
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.TARGET_ALREADY_EXISTS);
    expect(err.message).toContain('replaceExistingTarget');
  });

  test('TargetNotOwned when the target lacks the pipeline tag', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'staging-db', TagList: [{ Key: PipelineTag.PIPELINE, Value: 'other' }] }] });
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.TARGET_NOT_OWNED);
    expect(err.message).toContain("'other'");
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(1);
  });

  test('RestoreAlreadyInProgress names the operation and execution holding the lock', async () => {
    ddbMock.on(PutCommand, { Item: { operation_id: 'LOCK#staging-db' } as any }).rejects(awsError('ConditionalCheckFailedException'));
    ddbMock.on(GetCommand).resolves({ Item: { operation_id: 'LOCK#staging-db', holder_operation_id: 'other-op', holder_execution_arn: 'arn:exec:other', expires_at: 1_900_000_000 } });
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
    targetAbsent();
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.RESTORE_ALREADY_IN_PROGRESS);
    expect(err.message).toContain('other-op');
    expect(err.message).toContain('arn:exec:other');
    // The target was described once, read-only, by the preflight before the lock; not again under it.
    expect(rdsMock.commandCalls(DescribeDBClustersCommand)).toHaveLength(1);
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(0); // never releases someone else's lock
  });

  test('InvalidInput when the operation ID belongs to another execution', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
    targetAbsent();
    ddbMock.on(PutCommand, { Item: { operation_id: OPERATION_ID } as any }).rejects(awsError('ConditionalCheckFailedException'));
    ddbMock.on(GetCommand).resolves({ Item: { operation_id: OPERATION_ID, execution_arn: 'arn:exec:earlier', status: 'SUCCEEDED' } });
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe(PipelineErrorName.INVALID_INPUT);
    expect(err.message).toContain('arn:exec:earlier');
    expect(ddbMock.commandCalls(DeleteCommand)).toHaveLength(1);
  });

  test('throttling passes through under its SDK name (retried by the state machine)', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const err = await handler(event()).catch((e) => e);
    expect(err.name).toBe('ThrottlingException');
    expect(auditItems(ddbMock)[0]).toMatchObject({ outcome: 'FAILED', details: { errorName: 'ThrottlingException' } });
  });

  test('a server error becomes AwsServiceUnavailable (retried)', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('InternalFailure', 'boom', 'server'));
    await expect(handler(event())).rejects.toMatchObject({ name: PipelineErrorName.AWS_SERVICE_UNAVAILABLE });
  });

  test('uses the source region for snapshots and the target region for the target', async () => {
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
    targetAbsent();
    await handler(event());
    const regionOf = async (cmd: any) => {
      const call = rdsMock.commandCalls(cmd)[0];
      return (call.thisValue as RDSClient).config.region();
    };
    expect(await regionOf(DescribeDBClusterSnapshotsCommand)).toBe(SOURCE_REGION);
    expect(await regionOf(DescribeDBClustersCommand)).toBe(TARGET_REGION);
  });

  describe('preflight and dry run', () => {
    const failedReport = {
      passed: false,
      checks: [{ id: PreflightCheckId.COPY_KEY, status: PreflightCheckStatus.FAILED, reason: 'KMS key k does not exist.', fix: 'Create it.' }],
      summary: '1 of 15 preflight checks failed, before anything was changed: [kms.copy-key] KMS key k does not exist. Fix: Create it.',
    };

    test('a restore runs the preflight with the snapshot, the target and the users, before the lock', async () => {
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
      targetAbsent();
      let writesBefore = -1;
      runPreflight.mockImplementation(async () => {
        writesBefore = ddbMock.commandCalls(PutCommand).length;
        return { report: { passed: true, checks: [], summary: 'ok' } };
      });
      await handler({ ...event(), users: DEFAULT_DB_USERS });
      expect(runPreflight).toHaveBeenCalledTimes(1);
      expect(runPreflight.mock.calls[0][0]).toMatchObject({ snapshot: { identifier: 'm' }, users: DEFAULT_DB_USERS });
      expect(runPreflight.mock.calls[0][0].target).toBeUndefined();
      expect(writesBefore).toBe(0);
      expect(ddbMock.commandCalls(PutCommand).length).toBeGreaterThan(0);
    });

    test('a failed preflight fails with PreflightFailed before the lock: nothing locked, nothing to release', async () => {
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
      targetAbsent();
      runPreflight.mockResolvedValue({ report: failedReport });
      const err = await handler(event()).catch((e) => e);
      expect(err.name).toBe(PipelineErrorName.PREFLIGHT_FAILED);
      expect(err.message).toBe(failedReport.summary);
      expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'state-table')).toEqual([]);
      expect(ddbMock.commandCalls(DeleteCommand)).toEqual([]);
      expect(auditItems(ddbMock)[0]).toMatchObject({ step: 'SnapshotCheck', outcome: 'FAILED', details: { errorName: 'PreflightFailed' } });
    });

    test('a target the run may not replace fails with its own error (TargetNotOwned), before the lock', async () => {
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
      rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'staging-db', TagList: [{ Key: PipelineTag.PIPELINE, Value: 'other' }] }] });
      runPreflight.mockImplementation(async (inp: PreflightInput) => {
        expect(inp.targetTags).toEqual([{ Key: PipelineTag.PIPELINE, Value: 'other' }]);
        return { report: failedReport, targetError: errors.targetNotOwned('not ours') };
      });
      await expect(handler(event())).rejects.toMatchObject({ name: PipelineErrorName.TARGET_NOT_OWNED, message: 'not ours' });
      expect(ddbMock.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'state-table')).toEqual([]);
    });

    test('a dry run returns the checklist: no lock, no state item, no audit entry', async () => {
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [snapshot('m', '2026-11-01T00:00:00Z')] });
      targetAbsent();
      runPreflight.mockResolvedValue({ report: failedReport });
      const state = await snapshotCheck(event({ dryRun: true, requestedBy: 'ops' })) as DryRunState;
      expect(state).toEqual({
        dryRun: true,
        operationId: OPERATION_ID,
        executionArn: EXECUTION_ARN,
        targetClusterIdentifier: 'staging-db',
        targetRegion: TARGET_REGION,
        snapshot: expect.objectContaining({ identifier: 'm' }),
        preflight: failedReport,
      });
      expect(ddbMock.calls()).toEqual([]);
    });

    test('a dry run reports a snapshot that cannot be resolved as a check; transient faults are still retried', async () => {
      rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [] });
      targetAbsent();
      const state = await snapshotCheck(event({ dryRun: true })) as DryRunState;
      expect(state.snapshot).toBeUndefined();
      expect(runPreflight.mock.calls[0][0].snapshotError).toMatchObject({ name: PipelineErrorName.SNAPSHOT_NOT_FOUND });
      rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('ThrottlingException'));
      await expect(snapshotCheck(event({ dryRun: true }))).rejects.toMatchObject({ name: 'ThrottlingException' });
      rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('InternalFailure', 'boom', 'server'));
      await expect(snapshotCheck(event({ dryRun: true }))).rejects.toMatchObject({ name: PipelineErrorName.AWS_SERVICE_UNAVAILABLE });
    });

    test('dryRun must be a boolean', async () => {
      await expect(handler(event({ dryRun: 'yes' }))).rejects.toMatchObject({ name: PipelineErrorName.INVALID_INPUT, message: expect.stringContaining('dryRun') });
    });
  });
});
